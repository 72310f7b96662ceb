// HTML by tagged template: every interpolated value is escaped unless it is already SafeHtml.

export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"'`]/g, (char) => ESCAPES[char]!);
}

type Interpolation = SafeHtml | string | number | boolean | null | undefined | readonly Interpolation[];

function render(value: Interpolation): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

/** html`<p>${untrusted}</p>`: strings, numbers and arrays are escaped; SafeHtml is inserted as is. */
export function html(strings: TemplateStringsArray, ...values: Interpolation[]): SafeHtml {
  let out = strings[0]!;
  values.forEach((value, i) => {
    out += render(value) + strings[i + 1]!;
  });
  return new SafeHtml(out);
}

/** Builds a query string from the parts that are set. */
export function query(params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== '') search.set(key, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
}

export interface Crumb {
  label: string;
  href?: string;
}

export interface PageOptions {
  title: string;
  crumbs?: Crumb[];
  body: SafeHtml;
  /** Extra scripts from /assets (no inline script: the CSP forbids it). */
  scripts?: string[];
  /** Extra stylesheets from /assets. */
  styles?: string[];
  /** e.g. "data from 2 min ago" */
  footer?: SafeHtml | string;
  /** The signed-in user, shown with a sign-out button (a form carrying the session's anti-forgery token). */
  account?: Account;
}

export interface Account {
  /** Undefined with STATICREG_BROWSE_AUTH=none: nobody signs in, and the header shows no account. */
  user?: string;
  /** With a browse session: the sign-out form's token. Behind an authenticating proxy there is none (it signs out). */
  csrfToken?: string;
  /** Only admins (everyone with STATICREG_BROWSE_AUTH=none) get the dashboard's pipeline panel and the Cleanup link. */
  admin: boolean;
}

function accountBox(account: Account | undefined): SafeHtml | string {
  if (account?.user === undefined) return '';
  if (account.csrfToken === undefined) return html`<span class="account"><span class="user">${account.user}</span></span>`;
  return html`<form class="account" method="post" action="/sign-out"><span class="user">${account.user}</span><input type="hidden" name="csrf" value="${account.csrfToken}"><button type="submit">Sign out</button></form>`;
}

/** The page frame shared by every HTML page. */
export function page(options: PageOptions): string {
  const crumbs = options.crumbs ?? [];
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${options.title} · staticreg</title>
<link rel="icon" href="data:,">
${options.account?.csrfToken ? html`<meta name="staticreg-csrf-token" content="${options.account.csrfToken}">\n` : ''}
<link rel="stylesheet" href="/assets/app.css">
${(options.styles ?? []).map((href) => html`<link rel="stylesheet" href="${href}">\n`)}
${(options.scripts ?? []).map((src) => html`<script src="${src}" defer></script>\n`)}
</head>
<body>
<header class="top">
  <a class="brand" href="/">staticreg</a>
  <nav><a href="/">Repositories</a><a href="/dashboard">Dashboard</a>${options.account?.admin ? html`<a href="/cleanup">Cleanup</a>` : ''}</nav>
  ${accountBox(options.account)}
</header>
<main>
${crumbs.length > 0 ? html`<nav class="crumbs" aria-label="Breadcrumb">${crumbs.map((crumb, i) => html`${i > 0 ? html`<span class="sep">/</span>` : ''}${crumb.href ? html`<a href="${crumb.href}">${crumb.label}</a>` : html`<span>${crumb.label}</span>`}`)}</nav>` : ''}
${options.body}
</main>
${options.footer ? html`<footer>${options.footer}</footer>` : ''}
</body>
</html>
`.value;
}
