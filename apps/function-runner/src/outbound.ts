/** The outbound guard, in a module of its own so the runner loads the common library only when a function fetches. */
export { fetchOutbound } from '@plinth/common';
