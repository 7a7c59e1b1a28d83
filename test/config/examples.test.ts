// The deployment examples in config/examples must stay valid configs (they are copied by users).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, parse } from 'yaml';
import { compileConfig } from '../../src/config/compile.ts';
import { parseConfigText } from '../../src/config/load.ts';
import { explain } from '../../src/cli/explain.ts';

const dir = new URL('../../config/examples/', import.meta.url);
const read = (name: string) => readFileSync(new URL(name, dir), 'utf8');
const fakeFile = (path: string) =>
  path.endsWith('.pem') ? '-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----' : `secret-from-${path}-0123456789abcdefghijklmnop`;

describe('config/examples', () => {
  it('gatehouse.compose.yaml compiles', () => {
    const raw = parseConfigText(read('gatehouse.compose.yaml'), {
      env: { GATEHOUSE_SECRET: 'q7Vb2NxK9pLm4RtW8zYc3HdJ6fGs1AeU5oXi0TkQ2vBn', OIDC_SECRET: 's' },
    });
    expect(() => compileConfig(raw)).not.toThrow();
  });

  it('the Kubernetes ConfigMap holds a valid config', () => {
    const docs = parseAllDocuments(read('kubernetes/gatehouse.yaml')).map((d) => d.toJS());
    const cm = docs.find((d) => d.kind === 'ConfigMap');
    const raw = parseConfigText(cm.data['gatehouse.yaml'], { readFile: fakeFile });
    const { config } = compileConfig(raw);
    expect(config.session.store).toBe('redis');
    expect(config.watch).toBe(true);
    expect(docs.map((d) => d.kind)).toEqual(['ConfigMap', 'Secret', 'Deployment', 'Service', 'PodDisruptionBudget']);
  });

  it('ml-tools.yaml routes compile into a config', () => {
    const { routes } = parse(read('ml-tools.yaml'));
    const { config } = compileConfig({ server: { public_url: 'https://ml.corp.example' }, routes });
    expect(config.routes.map((r) => r.name)).toEqual(['jupyter', 'jupyterhub', 'mlflow', 'label-studio', 'tensorboard', 'zenml']);
  });

  it('ml-tools.yaml: MLflow deletes are for ml-admins under both /api/2.0 and /ajax-api/2.0, in any spelling', () => {
    const { routes } = parse(read('ml-tools.yaml'));
    const { config } = compileConfig({ server: { public_url: 'https://ml.corp.example' }, routes });
    const engineer = ['user=eve', 'groups=ml-engineers'];
    for (const prefix of ['/api/2.0', '/ajax-api/2.0', '/AJAX-API/2.0', '/ajax-api;x/2.0', '/ajax-api./2.0']) {
      for (const what of ['registered-models/delete', 'experiments/delete']) {
        const lines = explain(config, [...engineer, 'POST', `https://mlflow.corp.example${prefix}/mlflow/${what}`]);
        expect(lines.at(-1), `${prefix}/mlflow/${what}`).toMatch(/^result: {3}DENY \(403\)/);
        expect(
          explain(config, ['user=root', 'groups=ml-admins', 'POST', `https://mlflow.corp.example${prefix}/mlflow/${what}`]).at(-1),
        ).toMatch(/^result: {3}ALLOW/);
      }
    }
    expect(explain(config, [...engineer, 'POST', 'https://mlflow.corp.example/ajax-api/2.0/mlflow/runs/delete']).at(-1)).toMatch(
      /^result: {3}ALLOW/,
    );
  });

  it('the per-tool examples (tested as shipped in test/tools/) compile, with the settings their tools need', () => {
    const compiled = (name: string) =>
      compileConfig({ server: { public_url: 'https://ml.corp.example' }, routes: parse(read(name)).routes }).config.routes[0]!;
    expect(compiled('jupyter-notebook.yaml')).toMatchObject({ name: 'jupyter', preserveHost: true });
    expect(compiled('jupyterhub.yaml')).toMatchObject({ name: 'jupyterhub', preserveHost: true });
    expect(compiled('prometheus.yaml')).toMatchObject({ path: '/prometheus', stripPrefix: false });
    expect(compiled('prometheus-strip-prefix.yaml')).toMatchObject({ path: '/metrics-ui', stripPrefix: true });
  });
});
