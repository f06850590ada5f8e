import { describe, expect, it, vi } from 'vitest';
import { causeOf, DependencyStates } from './dependency-state.js';

function states() {
  const log = { error: vi.fn(), info: vi.fn() };
  return { log, states: new DependencyStates(log as never) };
}

describe('DependencyStateLogger', () => {
  it('logs a failure once per change of state, not once per retry, with its cause', () => {
    const { log, states: all } = states();
    const redis = all.of('redis (cache)');
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6390'), { code: 'ECONNREFUSED' });
    for (let attempt = 0; attempt < 50; attempt++) redis.failed(refused);
    expect(log.error).toHaveBeenCalledTimes(1);
    expect(log.error.mock.calls[0]![1]).toBe('redis (cache) is failing: connect ECONNREFUSED 127.0.0.1:6390');
    expect(log.error.mock.calls[0]![0]).toMatchObject({ dependency: 'redis (cache)', err: { code: 'ECONNREFUSED', message: refused.message } });

    // Another cause while still down is a change worth a line (the port answers now, the password is wrong).
    // As ioredis reports it: the refused command, password included, rides on the error.
    const wrongPass = Object.assign(new Error('WRONGPASS invalid username-password pair or user is disabled.'), {
      command: { name: 'hello', args: ['3', 'AUTH', 'default', 'hunter2'] },
    });
    redis.failed(wrongPass);
    redis.failed(wrongPass);
    expect(log.error).toHaveBeenCalledTimes(2);
    // Causes that alternate during one outage are each logged once, not once per alternation.
    for (let attempt = 0; attempt < 10; attempt++) redis.failed(attempt % 2 ? refused : wrongPass);
    expect(log.error).toHaveBeenCalledTimes(2);
    expect(JSON.stringify(log.error.mock.calls[1]![0])).not.toContain('hunter2');
    expect(redis.healthy).toBe(false);

    redis.recovered();
    redis.recovered();
    expect(log.info).toHaveBeenCalledTimes(1);
    expect(redis.healthy).toBe(true);
    redis.failed(refused);
    expect(log.error).toHaveBeenCalledTimes(3);
  });

  it('shares one state per dependency name, and a recovery without a failure says nothing', () => {
    const { log, states: all } = states();
    all.of('postgresql').recovered();
    all.of('postgresql').failed(new Error('down'));
    all.of('postgresql').failed(new Error('down'));
    expect(all.of('postgresql')).toBe(all.of('postgresql'));
    expect(log.error).toHaveBeenCalledTimes(1);
    expect(log.info).not.toHaveBeenCalled();
  });

  it('describes wrapped errors by what they wrap', () => {
    const inner = Object.assign(new Error('connect ECONNREFUSED ::1:5432'), { code: 'ECONNREFUSED' });
    expect(causeOf(new AggregateError([inner], ''))).toBe('connect ECONNREFUSED ::1:5432');
    expect(causeOf(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' }))).toBe('ETIMEDOUT: timeout');
    expect(causeOf(new Error('outer', { cause: new Error('inner') }))).toBe('outer; inner');
    expect(causeOf('plain')).toBe('plain');
  });
});
