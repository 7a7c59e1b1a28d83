// The runtime holder (structure review P7): reloads run one after the other in the order asked, a
// failed build keeps the serving runtime, and restartNeeded names exactly the settings a running
// process cannot change.
import { describe, expect, it } from 'vitest';
import { compileConfig } from '../src/config/compile.ts';
import type { Config } from '../src/config/types.ts';
import { createRuntimeHolder, restartNeeded, type Built } from '../src/runtime-holder.ts';
import { baseConfig, type RawConfigInput } from './support/start-gatehouse.ts';

interface Fake {
  readonly generation: number;
}

/** A build the test finishes by hand: each call waits until the test resolves or rejects it. */
function manualBuilds() {
  const calls: Array<{ from: Fake; resolve(b: Built<Fake>): void; reject(err: unknown): void }> = [];
  const build = (from: Fake) => new Promise<Built<Fake>>((resolve, reject) => calls.push({ from, resolve, reject }));
  return { calls, build };
}

function recorder() {
  const events: string[] = [];
  return {
    events,
    hooks: {
      onSwap: (prev: Fake, next: Fake, warnings: readonly string[]) =>
        events.push(`swap ${prev.generation}->${next.generation} ${warnings.join(',')}`),
      onFail: (message: string) => events.push(`fail ${message}`),
    },
  };
}

describe('createRuntimeHolder', () => {
  it('serves the initial runtime, and the new one after a successful reload', async () => {
    const { events, hooks } = recorder();
    const holder = createRuntimeHolder<Fake>(
      { generation: 0 },
      async (from) => ({ runtime: { generation: from.generation + 1 }, warnings: ['w'] }),
      hooks,
    );
    expect(holder.current()).toEqual({ generation: 0 });
    expect(await holder.reload()).toEqual({ ok: true, warnings: ['w'] });
    expect(holder.current()).toEqual({ generation: 1 });
    expect(events).toEqual(['swap 0->1 w']);
  });

  it('runs two reloads in flight one after the other: the second builds from the first one’s result', async () => {
    const { calls, build } = manualBuilds();
    const { events, hooks } = recorder();
    const holder = createRuntimeHolder<Fake>({ generation: 0 }, build, hooks);
    const first = holder.reload();
    const second = holder.reload();
    await expect.poll(() => calls.length).toBe(1);
    // The second has not started while the first is still building.
    await new Promise((r) => setImmediate(r));
    expect(calls).toHaveLength(1);
    calls[0]!.resolve({ runtime: { generation: 1 }, warnings: [] });
    expect(await first).toEqual({ ok: true, warnings: [] });
    await expect.poll(() => calls.length).toBe(2);
    expect(calls[1]!.from).toEqual({ generation: 1 });
    calls[1]!.resolve({ runtime: { generation: 2 }, warnings: [] });
    expect(await second).toEqual({ ok: true, warnings: [] });
    expect(holder.current()).toEqual({ generation: 2 });
    expect(events).toEqual(['swap 0->1 ', 'swap 1->2 ']);
  });

  it('a failed build keeps the serving runtime, reports why, and the next reload still runs', async () => {
    const { calls, build } = manualBuilds();
    const { events, hooks } = recorder();
    const initial = { generation: 0 };
    const holder = createRuntimeHolder<Fake>(initial, build, hooks);
    const failing = holder.reload();
    const after = holder.reload();
    await expect.poll(() => calls.length).toBe(1);
    calls[0]!.reject(new Error('routes[0].upstream: not a URL'));
    expect(await failing).toEqual({ ok: false, error: 'routes[0].upstream: not a URL' });
    expect(holder.current()).toBe(initial);
    await expect.poll(() => calls.length).toBe(2);
    expect(calls[1]!.from).toBe(initial);
    calls[1]!.resolve({ runtime: { generation: 1 }, warnings: [] });
    expect(await after).toMatchObject({ ok: true });
    expect(events).toEqual(['fail routes[0].upstream: not a URL', 'swap 0->1 ']);
  });

  it('a build that throws a non-Error is reported by its text', async () => {
    const { hooks } = recorder();
    const holder = createRuntimeHolder<Fake>({ generation: 0 }, () => Promise.reject('disk gone'), hooks);
    expect(await holder.reload()).toEqual({ ok: false, error: 'disk gone' });
  });
});

describe('restartNeeded', () => {
  const compile = (delta: RawConfigInput = {}): Config => compileConfig({ ...baseConfig(), audit: { sinks: [] }, ...delta }).config;
  const base = baseConfig() as { server: Record<string, unknown>; admin: Record<string, unknown> };

  it('is empty when only reloadable settings changed', () => {
    expect(
      restartNeeded(compile(), compile({ routes: [{ name: 'other', upstream: 'http://127.0.0.1:8', allow: { public: true } }] })),
    ).toEqual([]);
  });

  it.each([
    ['listen', { server: { ...base.server, listen: '127.0.0.1:4999' } }],
    ['admin.listen', { admin: { listen: '127.0.0.1:4998' } }],
    ['audit', { audit: { sinks: [{ type: 'stdout' }] } }],
  ])('names %s when it changed', (name, delta) => {
    expect(restartNeeded(compile(), compile(delta))).toEqual([name]);
  });

  it('names every changed one, in a fixed order', () => {
    const next = compile({
      server: { ...base.server, listen: '127.0.0.1:4999' },
      admin: { listen: '127.0.0.1:4998' },
      audit: { sinks: [{ type: 'stdout' }] },
    });
    expect(restartNeeded(compile(), next)).toEqual(['listen', 'admin.listen', 'audit']);
  });
});
