import { useQuery } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import { useParams } from 'react-router';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { api, unwrap } from '../api/client';
import type { MeterTotal, ProjectUsage } from '../api/types';
import { Empty, ErrorState, Loading, PageHeader } from '../components/ui';

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
