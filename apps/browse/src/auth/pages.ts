// The sign-in page: a plain form (no script), posted to this origin with the user's registry credentials.
import { html, page } from '../html.js';

export interface SignInPageOptions {
  next: string;
  user?: string;
  error?: string;
}

export function signInPage(options: SignInPageOptions): string {
  const body = html`<section class="sign-in">
<h1>Sign in</h1>
<p>Use your registry user name and password: you see the repositories the registry lets you pull.</p>
${options.error ? html`<p class="banner bad" role="alert">${options.error}</p>` : ''}
<form method="post" action="/sign-in">
  <input type="hidden" name="next" value="${options.next}">
  <label for="sign-in-user">User name</label>
  <input id="sign-in-user" name="user" autocomplete="username" required value="${options.user ?? ''}">
  <label for="sign-in-password">Password</label>
  <input id="sign-in-password" name="password" type="password" autocomplete="current-password" required>
  <button type="submit">Sign in</button>
</form>
</section>`;
  return page({ title: 'Sign in', body });
}

/** Only a path on this site: never `//elsewhere` or a full URL (no open redirect after sign-in). */
export function safeNext(value: unknown): string {
  if (typeof value !== 'string' || !value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\') || value.length > 2048) return '/';
  return value;
}
