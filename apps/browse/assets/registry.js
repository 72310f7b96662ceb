// Registry pages: copy buttons, repository autocomplete, filters that apply on change. No inline script anywhere:
// the Content-Security-Policy allows scripts from /assets only. Text from the API is set with textContent.
(function () {
  'use strict';

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    // Plain-http deployments have no Clipboard API: select a hidden field and use the old copy command.
    return new Promise(function (resolve, reject) {
      var field = document.createElement('textarea');
      field.value = text;
      field.setAttribute('readonly', '');
      field.className = 'offscreen';
      document.body.appendChild(field);
      field.select();
      var ok = false;
      try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
      document.body.removeChild(field);
      if (ok) resolve(); else reject(new Error('copy refused'));
    });
  }

  document.addEventListener('click', function (event) {
    var button = event.target.closest ? event.target.closest('button.copy') : null;
    if (!button) return;
    var label = button.textContent;
    copyText(button.getAttribute('data-copy') || '').then(
      function () { button.textContent = 'Copied'; button.classList.add('done'); },
      function () { button.textContent = 'Select and copy'; }
    ).then(function () {
      setTimeout(function () { button.textContent = label; button.classList.remove('done'); }, 1500);
    });
  });

  document.addEventListener('change', function (event) {
    var select = event.target;
    if (select.matches && select.matches('select[data-autosubmit]') && select.form) select.form.submit();
  });

  function setupSuggest(input) {
    var list = document.getElementById(input.getAttribute('aria-controls'));
    if (!list) return;
    var timer = 0;
    var active = -1;
    var latest = 0;

    function items() { return Array.prototype.slice.call(list.querySelectorAll('a')); }
    function close() { list.hidden = true; input.setAttribute('aria-expanded', 'false'); active = -1; }
    function highlight(index) {
      var links = items();
      links.forEach(function (link, i) { link.setAttribute('aria-selected', i === index ? 'true' : 'false'); });
      active = index;
    }
    function show(data) {
      while (list.firstChild) list.removeChild(list.firstChild);
      (data.repositories || []).forEach(function (repository, i) {
        var item = document.createElement('li');
        var link = document.createElement('a');
        link.href = repository.href;
        link.id = 'suggestion-' + i;
        link.setAttribute('role', 'option');
        link.textContent = repository.name;
        var count = document.createElement('span');
        count.className = 'muted';
        count.textContent = ' ' + repository.tagCount + (repository.tagCount === 1 ? ' tag' : ' tags');
        link.appendChild(count);
        item.appendChild(link);
        list.appendChild(item);
      });
      if (data.total > (data.repositories || []).length) {
        var more = document.createElement('li');
        var all = document.createElement('a');
        all.href = '/search?q=' + encodeURIComponent(data.query);
        all.textContent = 'All ' + data.total + ' matches…';
        all.className = 'more';
        more.appendChild(all);
        list.appendChild(more);
      }
      var any = list.childNodes.length > 0;
      list.hidden = !any;
      input.setAttribute('aria-expanded', any ? 'true' : 'false');
      active = -1;
    }
    function query() {
      var value = input.value.trim();
      if (value === '') { close(); return; }
      var ticket = ++latest;
      fetch(input.getAttribute('data-suggest') + '?q=' + encodeURIComponent(value) + '&limit=8', { headers: { accept: 'application/json' } })
        .then(function (response) { return response.ok ? response.json() : { repositories: [] }; })
        .then(function (data) { if (ticket === latest) show(data); })
        .catch(close);
    }
    input.addEventListener('input', function () {
      clearTimeout(timer);
      timer = setTimeout(query, 120);
    });
    input.addEventListener('keydown', function (event) {
      var links = items();
      if (list.hidden || links.length === 0) return;
      if (event.key === 'ArrowDown') { event.preventDefault(); highlight((active + 1) % links.length); }
      else if (event.key === 'ArrowUp') { event.preventDefault(); highlight((active - 1 + links.length) % links.length); }
      else if (event.key === 'Enter' && active >= 0) { event.preventDefault(); window.location.href = links[active].href; }
      else if (event.key === 'Escape') close();
    });
    document.addEventListener('click', function (event) {
      if (!input.form.contains(event.target)) close();
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll('input[data-suggest]'), setupSuggest);
})();
