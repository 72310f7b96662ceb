import { expect } from 'chai';
import { html, page, query, SafeHtml } from './html.js';

describe('html templates', () => {
  it('escapes every interpolated string, in text and attributes', () => {
    const label = `<script>alert("x")</script>' onmouseover='y`;
    expect(html`<a title="${label}">${label}</a>`.value).to.equal(
      '<a title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39; onmouseover=&#39;y">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39; onmouseover=&#39;y</a>',
    );
  });

  it('inserts SafeHtml and nested templates as they are, and escapes inside arrays', () => {
    expect(html`<ul>${['<a>', html`<li>ok</li>`]}</ul>`.value).to.equal('<ul>&lt;a&gt;<li>ok</li></ul>');
    expect(html`${new SafeHtml('<b>')}${null}${undefined}${false}${0}`.value).to.equal('<b>0');
  });

  it('renders a page with escaped title and breadcrumbs and no inline script', () => {
    const text = page({ title: '<x>', crumbs: [{ label: 'a<b', href: '/?q=<' }, { label: 'c' }], body: html`<p>hi</p>`, scripts: ['/assets/a.js'] });
    expect(text).to.include('<title>&lt;x&gt; · staticreg</title>');
    expect(text).to.include('<a href="/?q=&lt;">a&lt;b</a>');
    expect(text).to.match(/<script src="\/assets\/a.js" defer><\/script>/);
    expect(text).to.not.match(/<script>/);
  });

  it('builds query strings from the parts that are set', () => {
    expect(query({ q: 'a b', page: 2, empty: '', none: undefined })).to.equal('?q=a+b&page=2');
    expect(query({})).to.equal('');
  });
});
