/** Bounds that keep one request from costing the server too much. All violations are 4xx, never 5xx. */
export interface PostgrestLimits {
  /** Rows per response; a larger `limit` is clamped (PostgREST's db-max-rows). Also caps embedded arrays. */
  maxRows: number;
  /** Total characters over all query parameter keys and values. */
  maxQueryLength: number;
  maxSelectLength: number;
  maxSelectItems: number;
  maxInList: number;
  /** Nesting of or=/and= trees. */
  maxLogicDepth: number;
  maxEmbedDepth: number;
  /** Filter conditions over the whole request. */
  maxFilters: number;
  /** Rows in one insert body. */
  maxBodyRows: number;
}

export const DEFAULT_LIMITS: PostgrestLimits = {
  maxRows: 1000,
  maxQueryLength: 16_384,
  maxSelectLength: 4096,
  maxSelectItems: 200,
  maxInList: 1000,
  maxLogicDepth: 10,
  maxEmbedDepth: 5,
  maxFilters: 100,
  maxBodyRows: 1000,
};

export function withDefaults(partial: Partial<PostgrestLimits> | undefined): PostgrestLimits {
  return { ...DEFAULT_LIMITS, ...partial };
}
