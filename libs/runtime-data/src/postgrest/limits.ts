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
  /** Levels of embedding below the root table (`a(b(c(*)))` is 3). */
  maxEmbedDepth: number;
  /** Embedded resources in one request, over all levels. */
  maxEmbeds: number;
  /** Embedded resources in one select list (siblings under one parent). */
  maxEmbedsPerLevel: number;
  /** Filter conditions over the whole request. */
  maxFilters: number;
  /** Rows in one insert body. */
  maxBodyRows: number;
  /** Nesting of a JSON value in a body (`[[1]]` is 2): deeper values are refused before they are serialised. */
  maxJsonDepth: number;
  /** `match`/`imatch` conditions over the whole request, or= trees included. */
  maxRegexFilters: number;
  /** Characters in one `match`/`imatch` pattern. */
  maxRegexLength: number;
}

export const DEFAULT_LIMITS: PostgrestLimits = {
  maxRows: 1000,
  maxQueryLength: 16_384,
  maxSelectLength: 4096,
  maxSelectItems: 200,
  maxInList: 1000,
  maxLogicDepth: 10,
  maxEmbedDepth: 3,
  maxEmbeds: 20,
  maxEmbedsPerLevel: 10,
  maxFilters: 100,
  maxBodyRows: 1000,
  maxJsonDepth: 512,
  maxRegexFilters: 4,
  maxRegexLength: 256,
};

export function withDefaults(partial: Partial<PostgrestLimits> | undefined): PostgrestLimits {
  return { ...DEFAULT_LIMITS, ...partial };
}
