import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';

/** What a Stripe catalog id names: a meter, a product or a price. */
export type StripeCatalogKind = 'meter' | 'product' | 'price';

/** control.stripe_catalog: the Stripe id of each meter, product and price Plinth created, by its own key. */
@Injectable()
export class StripeCatalogRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async all(): Promise<Array<{ kind: StripeCatalogKind; key: string; stripe_id: string }>> {
    return (await this.db.query(`SELECT kind, key, stripe_id FROM control.stripe_catalog`)) as Array<{ kind: StripeCatalogKind; key: string; stripe_id: string }>;
  }

  async find(kind: StripeCatalogKind, key: string): Promise<string | undefined> {
    const rows = (await this.db.query(`SELECT stripe_id FROM control.stripe_catalog WHERE kind = $1 AND key = $2`, [kind, key])) as Array<{ stripe_id: string }>;
    return rows[0]?.stripe_id;
  }

  async save(kind: StripeCatalogKind, key: string, id: string): Promise<void> {
    await this.db.query(
      `INSERT INTO control.stripe_catalog (kind, key, stripe_id) VALUES ($1, $2, $3) ON CONFLICT (kind, key) DO UPDATE SET stripe_id = EXCLUDED.stripe_id`,
      [kind, key, id],
    );
  }
}
