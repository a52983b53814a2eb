import { Injectable } from '@nestjs/common';
import { hash } from 'node:crypto';
import { ErrorCode, PlinthException } from '@plinth/common';
import { AttemptLimiter, AttemptRule } from './attempt-limiter';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/**
 * Console sign-in policy (OWASP Authentication and Credential Stuffing cheat sheets: count failures per account
 * and per source, lock temporarily, and don't let an attacker lock the owner out):
 * - per IP: 20 failed sign-ins a minute, whatever the accounts (guessing across many accounts);
 * - per (account, IP): 10 failures per 15 minutes — the budget an attacker burns from their own address,
 *   which doesn't touch the owner's budget from theirs;
 * - per account from any address it has never signed in from: 100 failures per 15 minutes (a botnet spreading
 *   guesses over many IPs); an address the account signed in from successfully in the last 30 days skips this
 *   cap, so however many addresses an attacker has, the owner still signs in from a familiar one.
 * A success gives its attempt back and clears its (account, IP) count. Over a limit: 429 with Retry-After, until
 * the window that started with the first failure ends (refused attempts don't extend it).
 */
export const LOGIN_LIMITS = {
  ip: { limit: 20, windowMs: MINUTE },
  accountIp: { limit: 10, windowMs: 15 * MINUTE },
  account: { limit: 100, windowMs: 15 * MINUTE },
  familiarForMs: 30 * 24 * HOUR,
} as const;

/** Email verification codes: per IP and per account (each code also dies after a few wrong tries). */
export const VERIFY_LIMITS = {
  ip: { limit: 20, windowMs: MINUTE },
  account: { limit: 10, windowMs: 15 * MINUTE },
} as const;

/** Resending a verification email: one a minute and five an hour per address, 20 an hour per IP. */
export const RESEND_LIMITS = {
  addressMinute: { limit: 1, windowMs: MINUTE },
  addressHour: { limit: 5, windowMs: HOUR },
  ip: { limit: 20, windowMs: HOUR },
} as const;

/** A pass through a limit: what to give back if the attempt turns out legitimate. */
export interface AttemptTicket {
  giveBack: string[];
  clear: string[];
  familiarKey?: string;
}

/**
 * The console's brute-force limits (sign-in, verification codes, verification resends), keyed by a hash of the
 * lowercased email whether or not an account has it, so the answers don't tell which addresses exist.
 */
@Injectable()
export class ConsoleAuthLimits {
  constructor(private readonly limiter: AttemptLimiter) {}

  async beforeLogin(email: string, ip: string | null): Promise<AttemptTicket> {
    const acct = accountKey(email);
    const from = sourceOf(ip);
    const familiarKey = `login:familiar:${acct}:${from}`;
    const pair: AttemptRule = { key: `login:acct-ip:${acct}:${from}`, ...LOGIN_LIMITS.accountIp };
    const shared: AttemptRule[] = [{ key: `login:ip:${from}`, ...LOGIN_LIMITS.ip }];
    if (!(await this.limiter.remembers(familiarKey))) shared.push({ key: `login:acct:${acct}`, ...LOGIN_LIMITS.account });
    await this.take([pair, ...shared], 'Too many sign-in attempts; try again after the time in Retry-After');
    return { giveBack: shared.map((r) => r.key), clear: [pair.key], familiarKey };
  }

  async beforeVerify(email: string, ip: string | null): Promise<AttemptTicket> {
    const rules: AttemptRule[] = [
      { key: `verify:ip:${sourceOf(ip)}`, ...VERIFY_LIMITS.ip },
      { key: `verify:acct:${accountKey(email)}`, ...VERIFY_LIMITS.account },
    ];
    await this.take(rules, 'Too many verification attempts; try again after the time in Retry-After');
    return { giveBack: rules.map((r) => r.key), clear: [] };
  }

  async beforeResend(email: string, ip: string | null): Promise<void> {
    const acct = accountKey(email);
    await this.take(
      [
        { key: `resend:ip:${sourceOf(ip)}`, ...RESEND_LIMITS.ip },
        { key: `resend:min:${acct}`, ...RESEND_LIMITS.addressMinute },
        { key: `resend:hour:${acct}`, ...RESEND_LIMITS.addressHour },
      ],
      'A verification email was sent recently; try again after the time in Retry-After',
    );
  }

  /** The attempt was legitimate (right password, right code): it doesn't count. */
  async succeeded(ticket: AttemptTicket): Promise<void> {
    await this.limiter.settle(ticket.giveBack, ticket.clear);
    if (ticket.familiarKey) await this.limiter.remember(ticket.familiarKey, LOGIN_LIMITS.familiarForMs);
  }

  private async take(rules: AttemptRule[], message: string): Promise<void> {
    const d = await this.limiter.take(rules);
    if (d.allowed) return;
    const seconds = Math.max(1, Math.ceil(d.retryAfterMs / 1000));
    throw new PlinthException(ErrorCode.RateLimited, message, undefined, { 'retry-after': String(seconds) });
  }
}

/**
 * The source a limit counts per: an IPv4 address, or an IPv6 address's /64 (one subscriber's allocation: counting
 * each of its 2^64 addresses apart would make per-IP limits free to evade).
 */
export function sourceOf(ip: string | null): string {
  if (!ip) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1];
  if (!ip.includes(':')) return ip;
  const [head, tail] = ip.replace(/%.*$/, '').toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => (parseInt(g, 16) || 0).toString(16)).join(':')}::/64`;
}

/** Limits are keyed by address, not account id: unknown addresses are limited exactly like known ones. */
function accountKey(email: string): string {
  return hash('sha256', email.trim().toLowerCase(), 'hex').slice(0, 32);
}
