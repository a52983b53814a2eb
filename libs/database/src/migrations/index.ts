import { ControlSchema1763900000000 } from './1763900000000-control-schema';

/** Every control-schema migration, in order. Append new ones; never edit a landed one. */
export const CONTROL_MIGRATIONS = [ControlSchema1763900000000];
