// A browse client that signs in like a browser (form post from browse's own origin) and keeps the session cookie.
import { expect } from 'chai';

export interface BrowseAnswer {
  status: number;
  headers: Headers;
  body: string;
}

export class BrowseSession {
  cookie: string | undefined;
  /** The session's anti-forgery token, read from the sign-out form of the last page fetched. */
  csrfToken: string | undefined;

  constructor(readonly base: string) {}

  async request(path: string, init: RequestInit = {}): Promise<BrowseAnswer> {
    const headers = new Headers(init.headers);
    if (this.cookie && !headers.has('cookie')) headers.set('cookie', this.cookie);
    const response = await fetch(`${this.base}${path}`, { ...init, headers, redirect: 'manual' });
    const body = await response.text();
    const token = /name="csrf" value="([^"]+)"/.exec(body);
    if (token) this.csrfToken = token[1];
    return { status: response.status, headers: response.headers, body };
  }

  get(path: string, headers: Record<string, string> = {}): Promise<BrowseAnswer> {
    return this.request(path, { headers });
  }

  async json<T = Record<string, unknown>>(path: string): Promise<T> {
    const answer = await this.get(path);
    expect(answer.status, `${path}: ${answer.body}`).to.equal(200);
    return JSON.parse(answer.body) as T;
  }

  /** POSTs a form as a page of this origin would (Origin and Sec-Fetch-Site of browse itself), unless overridden. */
  post(path: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<BrowseAnswer> {
    return this.request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: this.base, 'sec-fetch-site': 'same-origin', ...headers },
      body: new URLSearchParams(fields).toString(),
    });
  }

  /** Signs in; keeps the cookie when browse set one. */
  async signIn(user: string, password: string): Promise<BrowseAnswer> {
    const answer = await this.post('/sign-in', { user, password, next: '/' });
    const setCookie = answer.headers.get('set-cookie');
    const match = setCookie ? /staticreg_session=([^;]*)/.exec(setCookie) : null;
    if (match && match[1]) this.cookie = `staticreg_session=${match[1]}`;
    return answer;
  }
}

export function basicAuth(user: string, password: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}
