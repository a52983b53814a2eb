import { Injectable } from '@nestjs/common';

/** One sample of a gauge per project, as a runtime measures it. */
export type GaugeSource = () => Promise<Array<{ projectId: string; value: number }>>;

/**
 * Gauges measured by runtimes (stored file bytes by the storage runtime), registered at start-up and sampled by
 * {@link SampleStorageJob} with the database sizes (metering must not depend on the runtimes).
 */
@Injectable()
export class GaugeSources {
  private readonly sources = new Map<string, GaugeSource>();

  register(meter: string, source: GaugeSource): void {
    this.sources.set(meter, source);
  }

  entries(): Array<[string, GaugeSource]> {
    return [...this.sources];
  }
}
