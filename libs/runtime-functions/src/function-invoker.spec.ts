import type { ModuleRef } from '@nestjs/core';
import { PlinthException, WireException } from '@plinth/common';
import type { PlinthConfig } from '@plinth/config';
import type { TenantContext } from '@plinth/gateway';
import type { MeteringService } from '@plinth/metering';
import type { PlansService, TenantLimitsService } from '@plinth/quotas';
import type { RestService } from '@plinth/runtime-data';
import type { FunctionDirectory } from './function-directory';
import { FunctionInvoker } from './function-invoker';
import type { FunctionLogs } from './function-logs';
import { FunctionSlots } from './function-slots';
import type { DeployedFunction } from './functions.repository';
import { RunnerLost, RunnerPool, RunnersUnavailable } from './runner-pool';

describe(FunctionInvoker.name, () => {
  const tenant = { project: { id: 'p1', ref: 'ref', orgId: 'o1' }, role: 'anon', user: null } as unknown as TenantContext;
  const fn: DeployedFunction = {
    functionId: 'f1',
    projectId: 'p1',
    name: 'hello',
    versionId: 'v1',
    version: 1,
    settings: { verify_jwt: false, service_role: false, rpc: false, rpc_read_only: false, memory_mb: 128, timeout_ms: 1000, cron: null },
  };
  const call = { tenant, name: 'hello', requestId: 'r', request: { method: 'GET', url: 'http://x/', headers: [], body: null } };

  function sut(invoke: RunnerPool['invoke']) {
    const config = { functions: { concurrency: 5, cpuMs: 100 } } as PlinthConfig;
    const directory = { projectSecrets: async () => ({}), compiled: async () => 'code' } as unknown as FunctionDirectory;
    const pool = { invoke } as unknown as RunnerPool;
    const metering = { record: jest.fn() } as unknown as MeteringService;
    const limits = { assertWithinQuota: async () => undefined } as unknown as TenantLimitsService;
    const plans = { cachedForOrg: () => undefined } as unknown as PlansService;
    const logs = { add: jest.fn() } as unknown as FunctionLogs;
    const slots = new FunctionSlots({ redis: { prefix: 't' } } as PlinthConfig, null);
    return { invoker: new FunctionInvoker(config, directory, pool, {} as RestService, metering, limits, plans, logs, slots, {} as ModuleRef), metering, logs };
  }

  const statusOf = async (p: Promise<unknown>) => {
    try {
      await p;
      return 'resolved';
    } catch (e) {
      return e instanceof WireException ? e.status : String(e);
    }
  };

  it('answers 503 when no runner can load isolated-vm, and 502 when the runner dies during the call', async () => {
    expect(await statusOf(sut(() => Promise.reject(new RunnersUnavailable('no ivm'))).invoker.invoke(call, fn))).toBe(503);
    const lost = sut(() => Promise.reject(new RunnerLost('killed')));
    expect(await statusOf(lost.invoker.invoke(call, fn))).toBe(502);
    expect(lost.logs.add).toHaveBeenCalledWith(expect.objectContaining({ status: 502 }));
  });

  it('meters one invocation and memory × wall time', async () => {
    const { invoker, metering } = sut(async () => ({ response: { status: 200, headers: [], body: null }, logs: [], cpuMs: 1, wallMs: 500, fetchBytes: 0, cold: false }));
    await invoker.invoke(call, fn);
    expect(metering.record).toHaveBeenCalledWith('p1', 'function_invocations', 1);
    expect(metering.record).toHaveBeenCalledWith('p1', 'function_gb_seconds', (128 / 1024) * 0.5);
    expect(metering.record).toHaveBeenCalledWith('p1', 'function_cpu_ms', 1);
  });

  it('queues a call at the project\'s concurrency limit briefly, then answers 429; a freed slot lets the next one in', async () => {
    const pending: Array<() => void> = [];
    const ok = { response: { status: 200, headers: [], body: null }, logs: [], cpuMs: 1, wallMs: 1, fetchBytes: 0, cold: false };
    const { invoker } = sut(() => new Promise((resolve) => pending.push(() => resolve(ok))));
    const running = Array.from({ length: 5 }, () => invoker.invoke(call, fn));
    await new Promise((r) => setTimeout(r, 10));
    const refused = await invoker.invoke(call, fn).catch((e: PlinthException) => e);
    expect(refused).toBeInstanceOf(PlinthException);
    expect((refused as PlinthException).status).toBe(429);
    const queued = invoker.invoke(call, fn);
    await new Promise((r) => setTimeout(r, 20));
    expect(pending).toHaveLength(5);
    pending[0]();
    await new Promise((r) => setTimeout(r, 10));
    expect(pending).toHaveLength(6);
    for (const p of pending) p();
    await Promise.all(running);
    expect(await statusOf(queued)).toBe('resolved');
  });

  it('answers 401 for verify_jwt without an end user, before running anything', async () => {
    const invoke = jest.fn();
    const { invoker } = sut(invoke);
    expect(await statusOf(invoker.invoke(call, { ...fn, settings: { ...fn.settings, verify_jwt: true } }))).toBe(401);
    expect(invoke).not.toHaveBeenCalled();
  });
});
