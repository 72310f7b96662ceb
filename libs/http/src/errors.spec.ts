import { Readable } from 'node:stream';
import { expect } from 'chai';
import type { NextFunction, Request, Response } from 'express';
import express from 'express';
import { HttpError, InternalError, RequestBodyError, toHttpError, unavailableWhen } from './errors.js';

/** A body-parser error as express.json raises it, from a real parse of the body. */
async function bodyParserError(body: string, limit = '1kb'): Promise<unknown> {
  const parse = express.json({ limit });
  const req = Object.assign(Readable.from([Buffer.from(body)]), {
    headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
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
