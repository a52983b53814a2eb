import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useParams } from 'react-router';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { api, unwrap } from '../api/client';
import type { MeterTotal, ProjectUsage } from '../api/types';
import { Button, Empty, ErrorState, Field, fieldError, FormError, Loading, PageHeader } from '../components/ui';

type Granularity = ProjectUsage['granularity'];
const RANGE_MS: Record<Granularity, number> = { minute: 60 * 60 * 1000, hour: 48 * 3600 * 1000, day: 30 * 24 * 3600 * 1000 };

/** Series per meter: [times in seconds, quantities], buckets without usage as zero. */
export function seriesByMeter(series: ProjectUsage['series']): Map<string, [number[], number[]]> {
  const out = new Map<string, [number[], number[]]>();
  for (const s of [...series].sort((a, b) => a.t.localeCompare(b.t))) {
    let m = out.get(s.meter);
    if (!m) out.set(s.meter, (m = [[], []]));
    m[0].push(Date.parse(s.t) / 1000);
    m[1].push(s.quantity);
  }
  return out;
}

export function UsagePage() {
  const { ref = '' } = useParams();
  const [granularity, setGranularity] = useState<Granularity>('minute');
  const usage = useQuery({
    queryKey: ['usage', ref, granularity],
    queryFn: () =>
      unwrap<ProjectUsage>(
        api.GET('/v1/projects/{ref}/usage', {
          params: { path: { ref }, query: { granularity, from: new Date(Date.now() - RANGE_MS[granularity]).toISOString() } as never },
        }),
      ),
    // Usage is flushed every few seconds; the page follows it.
    refetchInterval: 5000,
  });
  return (
    <>
      <PageHeader title="Usage">
        <div className="segmented" role="group" aria-label="Granularity">
          {(['minute', 'hour', 'day'] as const).map((g) => (
            <button key={g} type="button" className={g === granularity ? 'active' : ''} aria-pressed={g === granularity} onClick={() => setGranularity(g)}>
              {g}
            </button>
          ))}
        </div>
      </PageHeader>
      {usage.isPending ? <Loading /> : usage.isError ? <ErrorState error={usage.error} retry={() => void usage.refetch()} /> : <UsageBody usage={usage.data} />}
      <LimitsPanel ref_={ref} />
    </>
  );
}

function UsageBody({ usage }: { usage: ProjectUsage }) {
  const byMeter = seriesByMeter(usage.series);
  const meters = Object.entries(usage.meters);
  return (
    <>
      <p className="muted">
        Plan <strong>{usage.plan.name}</strong> · period {new Date(usage.period.start).toLocaleDateString()} – {new Date(usage.period.end).toLocaleDateString()}
      </p>
      <section className="panel">
        <h2>Month to date</h2>
        <div className="meters">
          {meters.map(([name, m]) => <MeterBar key={name} name={name} m={m} />)}
        </div>
      </section>
      <section className="panel">
        <h2>Over time</h2>
        {byMeter.size === 0 ? (
          <Empty title="No usage in this range yet" />
        ) : (
          <div className="charts">
            {[...byMeter].map(([meter, data]) => (
              <figure key={meter} className="chart">
                <figcaption>{meter}</figcaption>
                <Chart data={data} range={[Date.parse(usage.from) / 1000, Date.parse(usage.to) / 1000]} />
              </figure>
            ))}
          </div>
        )}
      </section>
    </>
  );
}

function MeterBar({ name, m }: { name: string; m: MeterTotal }) {
  const limit = m.cap ?? m.included;
  const pct = limit ? Math.min(100, (m.used / limit) * 100) : 0;
  return (
    <div className="meter" data-meter={name}>
      <div className="meter-head">
        <span>{name}</span>
        <span className="mono">
          {m.used.toLocaleString()}
          {m.included !== null ? ` / ${m.included.toLocaleString()} included` : ''}
          {m.cap !== null ? ` · cap ${m.cap.toLocaleString()}` : ''}
        </span>
      </div>
      <div className="bar" role="progressbar" aria-label={name} aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(pct)}>
        <div className={`fill ${pct >= 100 ? 'over' : pct >= 80 ? 'warn' : ''}`} style={{ width: `${pct}%` }} />
      </div>
    </div>
  );
}

/** One meter over the queried range (the whole range on the time axis, even with a single bucket of usage). */
function Chart({ data, range }: { data: [number[], number[]]; range: [number, number] }) {
  const el = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const xRange = useRef(range);
  xRange.current = range;
  useEffect(() => {
    if (!el.current) return;
    const width = Math.max(280, el.current.clientWidth);
    plot.current = new uPlot(
      {
        width,
        height: 180,
        legend: { show: false },
        scales: { x: { time: true, range: () => xRange.current }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
        series: [{}, { stroke: '#3b5bdb', fill: 'rgba(59,91,219,0.12)', width: 2, points: { show: true, size: 5 } }],
        axes: [{}, { size: 60 }],
      },
      data,
      el.current,
    );
    return () => {
      plot.current?.destroy();
      plot.current = null;
    };
    // Created once; data updates go through setData below.
  }, []);
  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);
  return <div ref={el} className="chart-canvas" />;
}

interface Limits {
  spend_cap_cents: number | null;
  meter_caps: Record<string, number>;
  rate_limit: { limit: number; window_s: number } | null;
  rate_limit_ceiling: { limit: number; window_s: number };
  alert_webhook_url: string | null;
}

/** Spend cap, rate limit within the plan's ceiling, usage-alert webhook (50/80/100 %). Meter caps are kept as set. */
function LimitsPanel({ ref_ }: { ref_: string }) {
  const queries = useQueryClient();
  const limits = useQuery({ queryKey: ['limits', ref_], queryFn: () => unwrap<Limits>(api.GET('/v1/projects/{ref}/limits', { params: { path: { ref: ref_ } } })) });
  const [draft, setDraft] = useState<{ cap?: string; rate?: string; window?: string; webhook?: string }>({});
  const save = useMutation({
    mutationFn: () => {
      const l = limits.data!;
      const cap = draft.cap ?? (l.spend_cap_cents === null ? '' : String(l.spend_cap_cents / 100));
      const rate = draft.rate ?? (l.rate_limit ? String(l.rate_limit.limit) : '');
      const window = draft.window ?? (l.rate_limit ? String(l.rate_limit.window_s) : '60');
      const webhook = draft.webhook ?? l.alert_webhook_url ?? '';
      const body = {
        spend_cap_cents: cap === '' ? null : Math.round(Number(cap) * 100),
        meter_caps: l.meter_caps,
        rate_limit: rate === '' ? null : { limit: Number(rate), window_s: Number(window) },
        alert_webhook_url: webhook === '' ? null : webhook,
      };
      return unwrap<Limits>(api.PUT('/v1/projects/{ref}/limits', { params: { path: { ref: ref_ } }, body: body as never }));
    },
    onSuccess: (l) => {
      queries.setQueryData(['limits', ref_], l);
      setDraft({});
    },
  });
  if (limits.isPending) return <Loading />;
  if (limits.isError) return <ErrorState error={limits.error} />;
  const l = limits.data;
  return (
    <section className="panel">
      <h2>Limits and alerts</h2>
      <form className="inline-form" onSubmit={(e: FormEvent) => { e.preventDefault(); save.mutate(); }}>
        <Field label="Spend cap (USD, empty: none)" inputMode="decimal" value={draft.cap ?? (l.spend_cap_cents === null ? '' : String(l.spend_cap_cents / 100))} onChange={(e) => setDraft({ ...draft, cap: e.target.value })} error={fieldError(save.error, 'spend_cap_cents')} />
        <Field label={`Rate limit (≤ ${l.rate_limit_ceiling.limit})`} inputMode="numeric" value={draft.rate ?? (l.rate_limit ? String(l.rate_limit.limit) : '')} onChange={(e) => setDraft({ ...draft, rate: e.target.value })} error={fieldError(save.error, 'rate_limit.limit')} />
        <Field label="per seconds" inputMode="numeric" value={draft.window ?? (l.rate_limit ? String(l.rate_limit.window_s) : '60')} onChange={(e) => setDraft({ ...draft, window: e.target.value })} error={fieldError(save.error, 'rate_limit.window_s')} />
        <Field label="Alert webhook URL" type="url" value={draft.webhook ?? l.alert_webhook_url ?? ''} onChange={(e) => setDraft({ ...draft, webhook: e.target.value })} error={fieldError(save.error, 'alert_webhook_url')} />
        <Button type="submit" variant="secondary" busy={save.isPending}>Save limits</Button>
      </form>
      <FormError error={save.error} />
      {save.isSuccess ? <p className="ok" role="status">Saved</p> : null}
    </section>
  );
}
