import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startTestApp, type TestApp } from '../support/test-app.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RULES = path.join(ROOT, 'deploy/prometheus/rules.yml');
const RULE_TESTS = path.join(ROOT, 'deploy/prometheus/rules.test.yml');
const DASHBOARD = path.join(ROOT, 'deploy/grafana/messaging-dashboard.json');

/** Debian's `prometheus` package brings promtool (.ci/run installs it). */
function hasPromtool(): boolean {
  try {
    execFileSync('promtool', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function ruleExpressions(): string[] {
  const rules = parse(readFileSync(RULES, 'utf8')) as { groups: Array<{ rules: Array<{ expr: string }> }> };
  return rules.groups.flatMap((group) => group.rules.map((rule) => rule.expr));
}

function dashboardExpressions(): string[] {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Array<{ targets: Array<{ expr: string }> }> };
  return dashboard.panels.flatMap((panel) => panel.targets.map((target) => target.expr));
}

/** The metric names a PromQL expression reads: the service's own and Node's default ones. */
function metricNames(expression: string): string[] {
  return [...expression.matchAll(/\b(?:messaging|nodejs|process)_[a-z0-9_]+\b/g)].map((match) => match[0]);
}

/** Every series name /metrics can expose: each metric's TYPE line, with a histogram's _bucket/_sum/_count. */
function exposedNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const [, name, type] of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name!);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${name}${suffix}`);
    if (type === 'summary') for (const suffix of ['_sum', '_count']) names.add(`${name}${suffix}`);
  }
  return names;
}

describe('alert rules (deploy/prometheus)', () => {
  it.skipIf(!hasPromtool())('pass `promtool check rules` and `promtool test rules`', () => {
    expect(execFileSync('promtool', ['check', 'rules', RULES], { encoding: 'utf8' })).toContain('SUCCESS');
    expect(execFileSync('promtool', ['test', 'rules', RULE_TESTS], { encoding: 'utf8' })).toContain('SUCCESS');
  });

  it('cover what an SRE pages on', () => {
    const names = new Set([...ruleExpressions(), ...dashboardExpressions()].flatMap(metricNames));
    for (const name of [
      'messaging_message_handling_seconds_bucket', // delivery latency
      'messaging_socket_events_total', // error ratios by code
      'messaging_grpc_requests_total',
      'messaging_connections_breaker_state', // breaker open
      'messaging_socket_adapter_redis_pending_commands', // adapter backlog
      'messaging_dependency_up', // Redis / PostgreSQL down
      'nodejs_eventloop_lag_p99_seconds', // event-loop lag
      'messaging_connected_sockets', // sockets per instance
    ]) expect(names, name).toContain(name);
  });
});

describe('every metric the dashboard and the rules use exists on /metrics', () => {
  let app: TestApp;
  beforeAll(async () => (app = await startTestApp({}, { redis: true })));
  afterAll(async () => app?.close());

  it('in a running service with Redis', async () => {
    const exposition = await (await fetch(`${app.server.httpUrl}/metrics`)).text();
    const exposed = exposedNames(exposition);
    const used = new Set([...ruleExpressions(), ...dashboardExpressions()].flatMap(metricNames));
    expect(used.size).toBeGreaterThan(8);
    expect([...used].filter((name) => !exposed.has(name))).toEqual([]);
    // The readiness monitor has probed: both dependencies are reported.
    expect(exposition).toMatch(/^messaging_dependency_up\{dependency="database"\} 1$/m);
    expect(exposition).toMatch(/^messaging_dependency_up\{dependency="redis"\} 1$/m);
  });
});
