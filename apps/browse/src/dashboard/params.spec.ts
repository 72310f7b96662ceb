import { expect } from 'chai';
import { ParameterError, parseMetricsQuery, type ParseOptions } from './params.js';

const TODAY = '2026-03-15';
const parse = (query: Record<string, unknown>, options: Partial<ParseOptions> = {}) => parseMetricsQuery(query, { today: TODAY, ...options });

function problem(query: Record<string, unknown>, options: Partial<ParseOptions> = {}): ParameterError {
  try {
    parse(query, options);
  } catch (error) {
    if (error instanceof ParameterError) return error;
    throw error;
  }
  throw new Error(`expected a ParameterError for ${JSON.stringify(query)}`);
}

describe('dashboard parameters', () => {
  it('defaults to the last 30 days, today included, as JSON', () => {
    expect(parse({})).to.deep.equal({ filter: { from: '2026-02-14', to: TODAY }, days: 30, limit: 10, format: 'json' });
  });

  it('turns a preset into a range that ends today, and takes an explicit range as it is', () => {
    expect(parse({ days: '7' }).filter).to.deep.equal({ from: '2026-03-09', to: TODAY });
    expect(parse({ days: '1' }).filter).to.deep.equal({ from: TODAY, to: TODAY });
    expect(parse({ from: '2024-02-28', to: '2024-03-01' })).to.deep.include({ filter: { from: '2024-02-28', to: '2024-03-01' }, days: undefined });
    expect(parse({ from: '2026-03-01' }).filter).to.deep.equal({ from: '2026-03-01', to: TODAY });
  });

  it('keeps the names that follow the reference grammar, and drops empty ones', () => {
    const { filter } = parse({ repository: 'library/nginx', tag: 'v1.2_3-rc', architecture: 'arm/v7' });
    expect(filter).to.deep.include({ repository: 'library/nginx', tag: 'v1.2_3-rc', architecture: 'arm/v7' });
    expect(parse({ repository: '', tag: '' }).filter).to.deep.equal({ from: '2026-02-14', to: TODAY });
  });

  it('names the parameter in every refusal', () => {
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ from: '2026-02-30', to: TODAY }, 'from', /YYYY-MM-DD, got "2026-02-30"/],
      [{ from: '2026-01-01', to: '15/03/2026' }, 'to', /YYYY-MM-DD/],
      [{ from: '2026-03-16', to: TODAY }, 'from', /must not be after to/],
      [{ to: TODAY }, 'from', /required when to is given/],
      [{ from: '2024-01-01', to: '2025-12-31' }, 'to', /longer than 366 days/],
      [{ days: '0' }, 'days', /1 to 366/],
      [{ days: '7.5' }, 'days', /whole number/],
      [{ days: '7', from: '2026-01-01' }, 'days', /cannot be combined/],
      [{ repository: 'Library/Nginx' }, 'repository', /not a valid repository name/],
      [{ repository: '../etc' }, 'repository', /not a valid repository name/],
      [{ tag: '-latest' }, 'tag', /not a valid tag/],
      [{ architecture: 'amd64;drop' }, 'architecture', /not a valid architecture/],
      [{ format: 'xml' }, 'format', /json or csv/],
      [{ repo: 'x' }, 'repo', /unknown parameter/],
      [{ limit: '5' }, 'limit', /unknown parameter/],
      [{ tag: ['a', 'b'] }, 'tag', /more than once/],
    ];
    for (const [query, parameter, message] of cases) {
      const error = problem(query);
      expect(error.parameter, JSON.stringify(query)).to.equal(parameter);
      expect(error.message, JSON.stringify(query)).to.match(new RegExp(`^${parameter}: `)).and.match(message);
    }
  });

  it('checks what an endpoint requires and the limit it takes', () => {
    expect(problem({ tag: 'latest' }, { require: ['repository', 'tag'] }).parameter).to.equal('repository');
    expect(parse({ limit: '25' }, { extra: ['limit'] }).limit).to.equal(25);
    expect(parse({}, { extra: ['limit'], defaultLimit: 20 }).limit).to.equal(20);
    expect(problem({ limit: '501' }, { extra: ['limit'] }).message).to.match(/^limit: must be a whole number from 1 to 500/);
  });
});
