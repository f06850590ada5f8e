import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Job } from 'kubernetes-models/batch/v1';
import { Service } from 'kubernetes-models/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const DIR = fileURLToPath(new URL('../../deploy/kubernetes/', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The Kubernetes (and Prometheus Operator) JSON schemas of each kind the manifests use. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'batch/v1/Job': Job,
  'v1/Service': Service,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule,
};

type Manifest = { apiVersion: string; kind: string; metadata: { name: string }; spec: Record<string, unknown> };
const files = readdirSync(DIR).filter((file) => file.endsWith('.yaml') && file !== 'kustomization.yaml');
const manifests = new Map(files.map((file) => [file, parse(readFileSync(path.join(DIR, file), 'utf8')) as Manifest]));
const byKind = (kind: string) => [...manifests.values()].find((manifest) => manifest.kind === kind)! as Manifest & Record<string, never>;

// Shapes of the parts the checks below read (the schemas have checked the rest).
interface Container {
  image: string;
  command?: string[];
  env: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }>;
  ports: Array<{ name: string; containerPort: number }>;
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  livenessProbe: { httpGet: { path: string } };
  readinessProbe: { httpGet: { path: string } };
  lifecycle: { preStop: { exec: { command: string[] } } };
}
interface PodSpec {
  terminationGracePeriodSeconds?: number;
  securityContext: { runAsNonRoot: boolean };
  containers: Container[];
}
const podOf = (manifest: Manifest) => (manifest.spec as unknown as { template: { spec: PodSpec } }).template.spec;

describe('Kubernetes manifests (deploy/kubernetes)', () => {
  it.each(files)('%s is valid against its Kubernetes schema', (file) => {
    const manifest = manifests.get(file)!;
    const model = MODELS[`${manifest.apiVersion}/${manifest.kind}`];
    expect(model, `no schema for ${manifest.apiVersion} ${manifest.kind}`).toBeDefined();
    expect(() => new model!(manifest as never).validate()).not.toThrow();
  });

  it('the schemas do catch a mistake', () => {
    const broken = structuredClone(byKind('Deployment')) as unknown as { spec: { replicas: unknown } };
    broken.spec.replicas = 'three';
    expect(() => new Deployment(broken as never).validate()).toThrow();
  });

  it('kustomization lists every manifest but the migration Job (applied first, on its own)', () => {
    const kustomization = parse(readFileSync(path.join(DIR, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
    expect([...kustomization.resources].sort()).toEqual(files.filter((file) => file !== 'migration-job.yaml').sort());
  });

  it('the Deployment: probes, preStop, a grace period covering the shutdown, resources, credentials from a Secret', () => {
    const pod = podOf(byKind('Deployment'));
    const [container] = pod.containers;
    expect(container!.livenessProbe.httpGet.path).toBe('/health/live');
    expect(container!.readinessProbe.httpGet.path).toBe('/health/ready');
    const preStopSeconds = Number(container!.lifecycle.preStop.exec.command.at(-1));
    // main.ts exits within 10 s of SIGTERM (CONTRACT §7); Kubernetes counts preStop in the grace period.
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(preStopSeconds + 10);
    const env = Object.fromEntries(container!.env.map((variable) => [variable.name, variable]));
    expect(env.NODE_ENV!.value).toBe('production');
    // SHUTDOWN_GRACE_MS within what the config accepts (at most 5000).
    expect(Number(env.SHUTDOWN_GRACE_MS!.value)).toBeLessThanOrEqual(5000);
    // CONTRACT §1.2: everything production requires is set; the credentials only by Secret reference.
    for (const name of ['DATABASE_URL', 'JWT_PUBLIC_KEY', 'REDIS_URL']) expect(env[name]!.valueFrom!.secretKeyRef!.name).toBe('messaging');
    expect(env.CONNECTIONS_GRPC_URL!.value).toMatch(/:\d+$/);
    expect(container!.ports.map((port) => port.containerPort).sort()).toEqual([3000, 50051]);
    expect(container!.resources.requests).toEqual({ cpu: '1', memory: '1Gi' });
    expect(container!.resources.limits.memory).toBe('2Gi');
    expect(pod.securityContext.runAsNonRoot).toBe(true);
  });

  it('the migration Job runs the image\'s migrate CLI, which exists in the build', () => {
    const [container] = podOf(byKind('Job')).containers;
    expect(container!.command).toEqual(['node', 'dist/cli/migrate.js']);
    expect(readFileSync(path.join(ROOT, 'src/cli/migrate.ts'), 'utf8')).toContain('migrate(');
    expect(container!.image).toBe(podOf(byKind('Deployment')).containers[0]!.image);
  });

  it('the PrometheusRule holds exactly the groups of deploy/prometheus/rules.yml', () => {
    const rules = parse(readFileSync(path.join(ROOT, 'deploy/prometheus/rules.yml'), 'utf8')) as unknown;
    expect(byKind('PrometheusRule').spec).toEqual(rules);
  });
});
