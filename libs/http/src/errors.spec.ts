import { Readable } from 'node:stream';
import { expect } from 'chai';
import type { NextFunction, Request, Response } from 'express';
import express from 'express';
import { HttpError, InternalError, orUnavailable, RequestBodyError, toHttpError, UnavailableError, unavailableWhen } from './errors.js';

/** A body-parser error as express.json (or express.urlencoded) raises it, from a real parse of the body. */
async function bodyParserError(body: string, limit = '1kb', form = false): Promise<unknown> {
  const parse = form ? express.urlencoded({ extended: false, limit, parameterLimit: 3 }) : express.json({ limit });
  const req = Object.assign(Readable.from([Buffer.from(body)]), {
    headers: { 'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json', 'content-length': String(Buffer.byteLength(body)) },
  }) as unknown as Request;
  return new Promise((resolve) => parse(req, {} as Response, ((error?: unknown) => resolve(error)) as NextFunction));
}

describe('toHttpError', () => {
  it('keeps an HttpError as it is, headers included', () => {
    const error = new HttpError(503, 'queue unavailable', { 'Retry-After': '1' });
    expect(toHttpError(error)).to.equal(error);
  });

  it('answers a malformed or oversized body with 400 or 413 and says why', async () => {
    const malformed = toHttpError(await bodyParserError('{"a":'));
    expect(malformed).to.be.instanceOf(RequestBodyError).and.include({ status: 400, type: 'entity.parse.failed' });
    expect(malformed.message).to.match(/^malformed JSON: /);
    const large = toHttpError(await bodyParserError(JSON.stringify({ a: 'x'.repeat(2000) })));
    expect(large).to.include({ status: 413, message: 'request body is larger than the limit of 1024 bytes' });
  });

  it('answers a form with more fields than allowed with 413 and says so', async () => {
    const crowded = toHttpError(await bodyParserError('a=1&b=2&c=3&d=4', '1kb', true));
    expect(crowded).to.be.instanceOf(RequestBodyError).and.include({ status: 413, type: 'parameters.too.many', message: 'too many parameters' });
  });

  it('answers anything else with a 500 that carries no detail', () => {
    const bug = new TypeError('secret detail');
    const answer = toHttpError(bug);
    expect(answer).to.be.instanceOf(InternalError).and.include({ status: 500, message: 'internal error', cause: bug });
    expect(answer.headers).to.deep.equal({});
    expect(toHttpError(undefined)).to.include({ status: 500 });
  });
});

describe('unavailableWhen', () => {
  const passed = (error: unknown): unknown => {
    let result: unknown;
    unavailableWhen((e) => e instanceof Error && e.message.includes('ECONNREFUSED'), 'database unavailable')(error, {} as Request, {} as Response, (e?: unknown) => {
      result = e;
    });
    return result;
  };

  it('turns the errors it recognises into 503 with Retry-After', () => {
    expect(passed(new Error('connect ECONNREFUSED 127.0.0.1:5432'))).to.deep.include({ status: 503, message: 'database unavailable', headers: { 'Retry-After': '5' } });
  });

  it('passes HttpErrors and other errors on unchanged', () => {
    const http = new HttpError(503, 'Redis unavailable: connect ECONNREFUSED');
    expect(passed(http)).to.equal(http);
    const other = new Error('syntax error');
    expect(passed(other)).to.equal(other);
  });
});

describe('UnavailableError and orUnavailable', () => {
  it('answers 503, with Retry-After only when given, and keeps the cause', () => {
    const cause = new Error('connect ECONNREFUSED 127.0.0.1:6379');
    const later = new UnavailableError('Redis unavailable', { retryAfterSeconds: 5, headers: { 'Cache-Control': 'no-store' }, cause });
    expect(toHttpError(later)).to.equal(later);
    expect(later).to.deep.include({ status: 503, message: 'Redis unavailable', headers: { 'Retry-After': '5', 'Cache-Control': 'no-store' } });
    expect(later.cause).to.equal(cause);
    expect(new UnavailableError('Redis is not connected').headers).to.deep.equal({});
  });

  it('classifies a failure of the work, passes an HttpError on, and returns what the work returns', async () => {
    const classify = (error: unknown) => new UnavailableError(`down: ${(error as Error).message}`, { retryAfterSeconds: 10 });
    expect(await orUnavailable(async () => 42, classify)).to.equal(42);
    const failed = await orUnavailable(() => Promise.reject(new Error('timeout')), classify).catch((error: unknown) => error);
    expect(failed).to.be.instanceOf(UnavailableError).and.deep.include({ status: 503, message: 'down: timeout', headers: { 'Retry-After': '10' } });
    const decided = new HttpError(404, 'no such manifest');
    expect(await orUnavailable(() => Promise.reject(decided), classify).catch((error: unknown) => error)).to.equal(decided);
  });
});
