/**
 * The web platform a function sees, as plain JavaScript run in each invocation's fresh context before the
 * function's module (both in one compiled script per isolate). It holds no host object: the only way out is a handful of `ivm.Reference`s to host functions (log, fetch, db, digest,
 * random bytes, URL parsing, timers), reached through one dispatcher reference that `__plinthBind` takes and deletes from the global, and that take and return
 * copies only. Written for V8 without Node or a browser: everything here is ordinary JS.
 */
export const PRELUDE = String.raw`
(function () {
'use strict';
const G = globalThis;
// The host callbacks of this context: set as globals when the context is made, taken by __plinthBind before the
// function's module runs, and removed from the global.
const H = {};
Object.defineProperty(G, '__plinthBind', {
  configurable: true,
  value() {
    // One host reference per context (a dispatcher on the first argument): each reference set into a new context
    // is a task on the isolate's thread, and this runs once per invocation.
    const host = G.__h;
    delete G.__h;
    for (const k of ['log', 'fetch', 'db', 'digest', 'random', 'url', 'timer', 'notify']) {
      H[k] = Object.freeze({
        apply: (self, args, opts) => host.apply(undefined, [k].concat(args), opts),
        applySync: (self, args, opts) => host.applySync(undefined, [k].concat(args), opts),
      });
    }
    delete G.__plinthBind;
  },
});
const COPY = { arguments: { copy: true }, result: { copy: true } };
const ASYNC = { arguments: { copy: true }, result: { promise: true, copy: true } };
const MAX_LINE = 8192;

// ---- text ---------------------------------------------------------------------------------------------------
function utf8Encode(s) {
  s = String(s);
  const out = [];
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) { c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00); i++; }
      else c = 0xfffd;
    } else if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return new Uint8Array(out);
}
function utf8Decode(b) {
  let s = '';
  const parts = [];
  for (let i = 0; i < b.length; ) {
    const c = b[i];
    let cp = 0xfffd, n = 1;
    if (c < 0x80) cp = c;
    else if (c >= 0xc2 && c < 0xe0 && i + 1 < b.length && (b[i + 1] & 0xc0) === 0x80) { cp = ((c & 31) << 6) | (b[i + 1] & 63); n = 2; }
    else if (c >= 0xe0 && c < 0xf0 && i + 2 < b.length && (b[i + 1] & 0xc0) === 0x80 && (b[i + 2] & 0xc0) === 0x80) { cp = ((c & 15) << 12) | ((b[i + 1] & 63) << 6) | (b[i + 2] & 63); n = 3; if (cp < 0x800) cp = 0xfffd; }
    else if (c >= 0xf0 && c < 0xf5 && i + 3 < b.length && (b[i + 1] & 0xc0) === 0x80 && (b[i + 2] & 0xc0) === 0x80 && (b[i + 3] & 0xc0) === 0x80) { cp = ((c & 7) << 18) | ((b[i + 1] & 63) << 12) | ((b[i + 2] & 63) << 6) | (b[i + 3] & 63); n = 4; if (cp < 0x10000 || cp > 0x10ffff) cp = 0xfffd; }
    if (cp >= 0x10000) { cp -= 0x10000; s += String.fromCharCode(0xd800 + (cp >> 10), 0xdc00 + (cp & 1023)); }
    else s += String.fromCharCode(cp);
    i += n;
    if (s.length > 4096) { parts.push(s); s = ''; }
  }
  parts.push(s);
  return parts.join('');
}
class TextEncoder { get encoding() { return 'utf-8'; } encode(s = '') { return utf8Encode(s); } }
class TextDecoder {
  constructor(label = 'utf-8') { if (!/^utf-?8$/i.test(String(label))) throw new RangeError('Only utf-8 is supported'); }
  get encoding() { return 'utf-8'; }
  decode(b) { if (b === undefined) return ''; return utf8Decode(toBytes(b)); }
}
function toBytes(b) {
  if (b instanceof Uint8Array) return b;
  if (b instanceof ArrayBuffer) return new Uint8Array(b);
  if (ArrayBuffer.isView(b)) return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  throw new TypeError('Expected an ArrayBuffer or a view of one');
}
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
function btoa(s) {
  s = String(s);
  let out = '';
  for (let i = 0; i < s.length; i += 3) {
    const a = s.charCodeAt(i), b = s.charCodeAt(i + 1), c = s.charCodeAt(i + 2);
    if (a > 255 || b > 255 || c > 255) throw new Error('InvalidCharacterError: btoa takes Latin-1 only');
    const n = (a << 16) | ((b || 0) << 8) | (c || 0);
    out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63] + (i + 1 < s.length ? B64[(n >> 6) & 63] : '=') + (i + 2 < s.length ? B64[n & 63] : '=');
  }
  return out;
}
function atob(s) {
  s = String(s).replace(/[\t\n\f\r ]/g, '');
  if (s.length % 4 === 0) s = s.replace(/==?$/, '');
  if (s.length % 4 === 1 || /[^A-Za-z0-9+/]/.test(s)) throw new Error('InvalidCharacterError: not valid base64');
  let out = '', bits = 0, acc = 0;
  for (let i = 0; i < s.length; i++) {
    acc = (acc << 6) | B64.indexOf(s[i]); bits += 6;
    if (bits >= 8) { bits -= 8; out += String.fromCharCode((acc >> bits) & 255); }
  }
  return out;
}

// ---- URL ----------------------------------------------------------------------------------------------------
class URLSearchParams {
  constructor(init) {
    this._list = [];
    if (init == null) return;
    if (typeof init === 'string') this._parse(init);
    else if (init instanceof URLSearchParams) this._list = init._list.map((p) => p.slice());
    else if (Array.isArray(init) || typeof init[Symbol.iterator] === 'function') for (const [k, v] of init) this._list.push([String(k), String(v)]);
    else for (const k of Object.keys(init)) this._list.push([k, String(init[k])]);
  }
  _parse(s) {
    this._list = [];
    s = s.startsWith('?') ? s.slice(1) : s;
    for (const part of s.split('&')) {
      if (!part) continue;
      const i = part.indexOf('=');
      const dec = (x) => { try { return decodeURIComponent(x.replace(/\+/g, ' ')); } catch { return x; } };
      this._list.push(i < 0 ? [dec(part), ''] : [dec(part.slice(0, i)), dec(part.slice(i + 1))]);
    }
  }
  _changed() { if (this._url) this._url._setSearch(this.toString()); }
  append(k, v) { this._list.push([String(k), String(v)]); this._changed(); }
  delete(k) { this._list = this._list.filter((p) => p[0] !== String(k)); this._changed(); }
  get(k) { const p = this._list.find((x) => x[0] === String(k)); return p ? p[1] : null; }
  getAll(k) { return this._list.filter((x) => x[0] === String(k)).map((x) => x[1]); }
  has(k) { return this._list.some((x) => x[0] === String(k)); }
  set(k, v) { const i = this._list.findIndex((x) => x[0] === String(k)); if (i < 0) this._list.push([String(k), String(v)]); else { this._list[i][1] = String(v); this._list = this._list.filter((x, j) => j <= i || x[0] !== String(k)); } this._changed(); }
  sort() { this._list.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)); this._changed(); }
  forEach(fn, self) { for (const [k, v] of this._list) fn.call(self, v, k, this); }
  keys() { return this._list.map((p) => p[0])[Symbol.iterator](); }
  values() { return this._list.map((p) => p[1])[Symbol.iterator](); }
  entries() { return this._list.map((p) => [p[0], p[1]])[Symbol.iterator](); }
  [Symbol.iterator]() { return this.entries(); }
  get size() { return this._list.length; }
  toString() {
    const enc = (x) => encodeURIComponent(x).replace(/%20/g, '+').replace(/[!'()~]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
    return this._list.map(([k, v]) => enc(k) + '=' + enc(v)).join('&');
  }
}
const URL_PARTS = ['href', 'origin', 'protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'hash'];
class URL {
  constructor(input, base) {
    const parts = H.url.applySync(undefined, [String(input), base === undefined ? undefined : String(base)], COPY);
    if (parts === null) throw new TypeError('Invalid URL: ' + String(input).slice(0, 200));
    this._p = parts;
  }
  static canParse(input, base) { try { new URL(input, base); return true; } catch { return false; } }
  _reparse(href) { const parts = H.url.applySync(undefined, [href, undefined], COPY); if (parts !== null) { this._p = parts; if (this._sp) this._sp._parse(this._p.search); } }
  _setSearch(s) { this._reparse(this._p.href.replace(/[?#].*$/, '') + (s ? '?' + s : '') + this._p.hash); }
  get searchParams() { if (!this._sp) { this._sp = new URLSearchParams(this._p.search); this._sp._url = this; } return this._sp; }
  toString() { return this._p.href; }
  toJSON() { return this._p.href; }
}
for (const k of URL_PARTS) {
  Object.defineProperty(URL.prototype, k, {
    get() { return this._p[k]; },
    set(v) {
      if (k === 'origin') return;
      if (k === 'href') return this._reparse(String(v));
      const p = Object.assign({}, this._p, { [k]: String(v) });
      const auth = p.username ? p.username + (p.password ? ':' + p.password : '') + '@' : '';
      const search = p.search && !p.search.startsWith('?') ? '?' + p.search : p.search;
      const hash = p.hash && !p.hash.startsWith('#') ? '#' + p.hash : p.hash;
      const host = k === 'hostname' || k === 'port' ? p.hostname + (p.port ? ':' + p.port : '') : p.host;
      this._reparse(p.protocol.replace(/:?$/, ':') + '//' + auth + host + p.pathname + search + hash);
    },
  });
}

// ---- Headers, bodies, Request, Response -----------------------------------------------------------------------
class Headers {
  constructor(init) {
    this._m = new Map();
    if (init == null) return;
    if (init instanceof Headers) init.forEach((v, k) => this.append(k, v));
    else if (Array.isArray(init) || typeof init[Symbol.iterator] === 'function') for (const [k, v] of init) this.append(k, v);
    else for (const k of Object.keys(init)) this.append(k, init[k]);
  }
  append(k, v) { k = String(k).toLowerCase(); v = String(v); const o = this._m.get(k); this._m.set(k, o === undefined ? v : k === 'set-cookie' ? o + '\n' + v : o + ', ' + v); }
  set(k, v) { this._m.set(String(k).toLowerCase(), String(v)); }
  get(k) { const v = this._m.get(String(k).toLowerCase()); return v === undefined ? null : v.replace(/\n/g, ', '); }
  has(k) { return this._m.has(String(k).toLowerCase()); }
  delete(k) { this._m.delete(String(k).toLowerCase()); }
  forEach(fn, self) { for (const [k, v] of this.entries()) fn.call(self, v, k, this); }
  entries() { return [...this._m.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([k, v]) => [k, v.replace(/\n/g, ', ')])[Symbol.iterator](); }
  keys() { return [...this._m.keys()].sort()[Symbol.iterator](); }
  values() { return [...this.entries()].map((e) => e[1])[Symbol.iterator](); }
  getSetCookie() { const v = this._m.get('set-cookie'); return v === undefined ? [] : v.split('\n'); }
  [Symbol.iterator]() { return this.entries(); }
  _pairs() { const out = []; for (const [k, v] of this._m) for (const x of k === 'set-cookie' ? v.split('\n') : [v]) out.push([k, x]); return out; }
}
class FormData {
  constructor() { this._l = []; }
  append(k, v) { this._l.push([String(k), v]); }
  set(k, v) { this.delete(k); this.append(k, v); }
  get(k) { const p = this._l.find((x) => x[0] === k); return p ? p[1] : null; }
  getAll(k) { return this._l.filter((x) => x[0] === k).map((x) => x[1]); }
  has(k) { return this._l.some((x) => x[0] === k); }
  delete(k) { this._l = this._l.filter((x) => x[0] !== k); }
  entries() { return this._l.map((p) => [p[0], p[1]])[Symbol.iterator](); }
  [Symbol.iterator]() { return this.entries(); }
}
class Blob {
  constructor(parts = [], opts = {}) {
    const chunks = parts.map((p) => (typeof p === 'string' ? utf8Encode(p) : p instanceof Blob ? p._b : toBytes(p)));
    const n = chunks.reduce((a, c) => a + c.length, 0);
    this._b = new Uint8Array(n);
    let o = 0; for (const c of chunks) { this._b.set(c, o); o += c.length; }
    this.type = opts.type ? String(opts.type).toLowerCase() : '';
  }
  get size() { return this._b.length; }
  async text() { return utf8Decode(this._b); }
  async arrayBuffer() { return this._b.slice().buffer; }
  async bytes() { return this._b.slice(); }
}
class File extends Blob { constructor(parts, name, opts = {}) { super(parts, opts); this.name = String(name); this.lastModified = 0; } }

/** A body as bytes plus the content type it implies. */
function extractBody(body) {
  if (body == null) return [null, null];
  if (typeof body === 'string') return [utf8Encode(body), 'text/plain;charset=UTF-8'];
  if (body instanceof URLSearchParams) return [utf8Encode(body.toString()), 'application/x-www-form-urlencoded;charset=UTF-8'];
  if (body instanceof Blob) return [body._b, body.type || null];
  if (body instanceof FormData) {
    const boundary = '----plinth' + randomHex(12);
    const parts = [];
    for (const [k, v] of body._l) {
      const name = k.replace(/"/g, '%22');
      if (v instanceof Blob) parts.push(utf8Encode('--' + boundary + '\r\nContent-Disposition: form-data; name="' + name + '"; filename="' + String(v.name || 'blob').replace(/"/g, '%22') + '"\r\nContent-Type: ' + (v.type || 'application/octet-stream') + '\r\n\r\n'), v._b, utf8Encode('\r\n'));
      else parts.push(utf8Encode('--' + boundary + '\r\nContent-Disposition: form-data; name="' + name + '"\r\n\r\n' + String(v) + '\r\n'));
    }
    parts.push(utf8Encode('--' + boundary + '--\r\n'));
    return [new Blob(parts)._b, 'multipart/form-data; boundary=' + boundary];
  }
  if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return [toBytes(body).slice(), null];
  throw new TypeError('Unsupported body type');
}
function indexOfBytes(hay, needle, from) {
  outer: for (let i = from; i <= hay.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
function parseMultipart(bytes, type) {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(type);
  if (!m) throw new TypeError('multipart body without a boundary');
  const delim = utf8Encode('--' + (m[1] || m[2]).trim());
  const fd = new FormData();
  let at = indexOfBytes(bytes, delim, 0);
  while (at >= 0) {
    const start = at + delim.length;
    if (bytes[start] === 45 && bytes[start + 1] === 45) break;
    const next = indexOfBytes(bytes, delim, start);
    if (next < 0) break;
    const part = bytes.subarray(start + 2, next - 2);
    const sep = indexOfBytes(part, utf8Encode('\r\n\r\n'), 0);
    if (sep >= 0) {
      const head = utf8Decode(part.subarray(0, sep));
      const content = part.subarray(sep + 4);
      const name = /name="([^"]*)"/i.exec(head);
      const file = /filename="([^"]*)"/i.exec(head);
      const ct = /content-type:\s*([^\r\n]+)/i.exec(head);
      if (name) fd.append(name[1], file ? new File([content], file[1], { type: ct ? ct[1] : '' }) : utf8Decode(content));
    }
    at = next;
  }
  return fd;
}
const bodyMixin = {
  _take() {
    if (this.bodyUsed) throw new TypeError('Body has already been consumed');
    this.bodyUsed = true;
    return this._body || new Uint8Array(0);
  },
  async arrayBuffer() { return this._take().slice().buffer; },
  async bytes() { return this._take().slice(); },
  async text() { return utf8Decode(this._take()); },
  async json() { return JSON.parse(utf8Decode(this._take())); },
  async blob() { return new Blob([this._take()], { type: this.headers.get('content-type') || '' }); },
  async formData() {
    const type = this.headers.get('content-type') || '';
    const bytes = this._take();
    if (/^multipart\/form-data/i.test(type)) return parseMultipart(bytes, type);
    const fd = new FormData();
    for (const [k, v] of new URLSearchParams(utf8Decode(bytes))) fd.append(k, v);
    return fd;
  },
};
// The init objects of the invocation's own requests (a WeakSet lookup triggers no trap of a Proxy a function passes).
const TRUSTED_INITS = new WeakSet();
class Request {
  constructor(input, init = {}) {
    const from = input instanceof Request ? input : null;
    // The invocation's own request URL was made and normalised by the api: not parsed again (a host call).
    this.url = from ? from.url : TRUSTED_INITS.has(init) ? String(input) : new URL(String(input)).href;
    this.method = String(init.method || (from ? from.method : 'GET')).toUpperCase();
    this.headers = new Headers(init.headers || (from ? from.headers : undefined));
    const [b, t] = init.body !== undefined ? extractBody(init.body) : [from ? from._body : null, null];
    if (b && (this.method === 'GET' || this.method === 'HEAD')) throw new TypeError('Request with GET/HEAD method cannot have body');
    this._body = b;
    if (t && !this.headers.has('content-type')) this.headers.set('content-type', t);
    this.bodyUsed = false;
    this.signal = { aborted: false, addEventListener() {}, removeEventListener() {} };
    this.redirect = init.redirect || 'follow';
  }
  get body() { return this._body; }
  clone() { return new Request(this); }
}
Object.assign(Request.prototype, bodyMixin);
class Response {
  constructor(body = null, init = {}) {
    this.status = init.status === undefined ? 200 : Number(init.status);
    if (!(this.status >= 200 && this.status <= 599) || !Number.isInteger(this.status)) throw new RangeError('Response status must be an integer from 200 to 599');
    this.statusText = init.statusText === undefined ? '' : String(init.statusText);
    this.headers = new Headers(init.headers);
    const [b, t] = extractBody(body);
    this._body = b;
    if (t && !this.headers.has('content-type')) this.headers.set('content-type', t);
    this.bodyUsed = false;
    this.type = 'default';
    this.url = '';
  }
  get ok() { return this.status >= 200 && this.status < 300; }
  get body() { return this._body; }
  clone() { const r = new Response(null, this); r._body = this._body; return r; }
  static json(data, init = {}) {
    const headers = new Headers(init.headers);
    if (!headers.has('content-type')) headers.set('content-type', 'application/json');
    return new Response(JSON.stringify(data), Object.assign({}, init, { headers }));
  }
  static redirect(url, status = 302) { return new Response(null, { status, headers: { location: new URL(url).href } }); }
  static error() { const r = new Response(null, { status: 500 }); r.type = 'error'; return r; }
}
Object.assign(Response.prototype, bodyMixin);

// ---- crypto, clone, timers, console ---------------------------------------------------------------------------
function randomHex(n) { return [...H.random.applySync(undefined, [n], COPY)].map((b) => b.toString(16).padStart(2, '0')).join(''); }
const crypto = {
  getRandomValues(view) {
    if (!ArrayBuffer.isView(view) || view instanceof Float32Array || view instanceof Float64Array) throw new TypeError('getRandomValues takes an integer typed array');
    if (view.byteLength > 65536) throw new RangeError('getRandomValues: at most 65536 bytes');
    new Uint8Array(view.buffer, view.byteOffset, view.byteLength).set(H.random.applySync(undefined, [view.byteLength], COPY));
    return view;
  },
  randomUUID() {
    const b = H.random.applySync(undefined, [16], COPY);
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
  },
  subtle: {
    async digest(alg, data) {
      const name = String(typeof alg === 'object' && alg ? alg.name : alg).toUpperCase();
      const bytes = typeof data === 'string' ? utf8Encode(data) : toBytes(data);
      const out = await H.digest.apply(undefined, [name, bytes], ASYNC);
      if (out.error) throw new Error(out.error);
      return new Uint8Array(out.ok).buffer;
    },
  },
};
function structuredClone(value) {
  const seen = new Map();
  const clone = (v) => {
    if (typeof v === 'function' || typeof v === 'symbol') throw new Error('DataCloneError: ' + typeof v + ' could not be cloned');
    if (v === null || typeof v !== 'object') return v;
    if (seen.has(v)) return seen.get(v);
    let out;
    if (v instanceof Date) out = new Date(v.getTime());
    else if (v instanceof RegExp) out = new RegExp(v.source, v.flags);
    else if (v instanceof ArrayBuffer) out = v.slice(0);
    else if (ArrayBuffer.isView(v)) out = new v.constructor(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));
    else if (v instanceof Map) { out = new Map(); seen.set(v, out); for (const [k, x] of v) out.set(clone(k), clone(x)); return out; }
    else if (v instanceof Set) { out = new Set(); seen.set(v, out); for (const x of v) out.add(clone(x)); return out; }
    else if (v instanceof Error) { out = new Error(v.message); out.name = v.name; }
    else if (Array.isArray(v)) { out = []; seen.set(v, out); for (let i = 0; i < v.length; i++) out[i] = clone(v[i]); return out; }
    else { out = {}; seen.set(v, out); for (const k of Object.keys(v)) out[k] = clone(v[k]); return out; }
    seen.set(v, out);
    return out;
  };
  return clone(value);
}
const timers = new Set();
let timerSeq = 0;
function setTimeout(fn, ms, ...args) {
  if (typeof fn !== 'function') throw new TypeError('setTimeout takes a function');
  const id = ++timerSeq;
  timers.add(id);
  H.timer.apply(undefined, [Math.max(0, Number(ms) || 0)], ASYNC).then((fired) => { if (fired && timers.delete(id)) fn(...args); });
  return id;
}
function clearTimeout(id) { timers.delete(id); }
function queueMicrotask(fn) { Promise.resolve().then(fn); }
function inspect(v, depth) {
  if (typeof v === 'string') return depth === 0 ? v : JSON.stringify(v);
  if (v instanceof Error) return (v.stack || v.name + ': ' + v.message);
  if (typeof v === 'function') return '[Function ' + (v.name || 'anonymous') + ']';
  if (typeof v !== 'object' || v === null) return String(v);
  try { const s = JSON.stringify(v); return s === undefined ? String(v) : s; } catch { return '[object]'; }
}
function logger(level) {
  return (...args) => {
    let line = '';
    for (const a of args) { line += (line ? ' ' : '') + inspect(a, 0); if (line.length > MAX_LINE) break; }
    H.log.applySync(undefined, [level, line.length > MAX_LINE ? line.slice(0, MAX_LINE) + '…' : line], COPY);
  };
}
const console = { log: logger('log'), info: logger('info'), debug: logger('debug'), warn: logger('warn'), error: logger('error'), trace: logger('debug') };

// ---- fetch ---------------------------------------------------------------------------------------------------
async function fetch(input, init) {
  const req = new Request(input, init);
  const out = await H.fetch.apply(undefined, [{ url: req.url, method: req.method, headers: req.headers._pairs(), body: req._body }], ASYNC);
  if (out.error) throw new TypeError('fetch failed: ' + out.error);
  const res = new Response(out.body && out.body.length ? out.body : null, { status: out.status < 200 ? 200 : out.status, statusText: out.statusText, headers: out.headers });
  res.url = req.url;
  return res;
}

// ---- env.db: a small supabase-js-like query builder over the project's REST path --------------------------------
class QueryBuilder {
  constructor(table) { this._t = String(table); this._m = 'GET'; this._q = []; this._prefer = []; this._body = undefined; this._single = null; this._accept = null; }
  _f(col, op, v) { this._q.push([String(col), op + '.' + v]); return this; }
  select(cols = '*', opts = {}) { this._q.push(['select', String(cols).replace(/\s/g, '')]); if (this._m !== 'GET') this._prefer.push('return=representation'); if (opts.count) this._prefer.push('count=' + opts.count); if (opts.head) this._m = 'HEAD'; return this; }
  insert(rows, opts = {}) { this._m = 'POST'; this._body = rows; if (opts.count) this._prefer.push('count=' + opts.count); return this; }
  upsert(rows, opts = {}) { this._m = 'POST'; this._body = rows; this._prefer.push('resolution=' + (opts.ignoreDuplicates ? 'ignore' : 'merge') + '-duplicates'); if (opts.onConflict) this._q.push(['on_conflict', opts.onConflict]); return this; }
  update(values) { this._m = 'PATCH'; this._body = values; return this; }
  delete() { this._m = 'DELETE'; return this; }
  eq(c, v) { return this._f(c, 'eq', v); }
  neq(c, v) { return this._f(c, 'neq', v); }
  gt(c, v) { return this._f(c, 'gt', v); }
  gte(c, v) { return this._f(c, 'gte', v); }
  lt(c, v) { return this._f(c, 'lt', v); }
  lte(c, v) { return this._f(c, 'lte', v); }
  like(c, v) { return this._f(c, 'like', v); }
  ilike(c, v) { return this._f(c, 'ilike', v); }
  is(c, v) { return this._f(c, 'is', v); }
  in(c, vs) { return this._f(c, 'in', '(' + vs.map((v) => (/[,()"]/.test(String(v)) ? '"' + String(v).replace(/"/g, '\\"') + '"' : String(v))).join(',') + ')'); }
  not(c, op, v) { return this._f(c, 'not.' + op, v); }
  or(filters) { this._q.push(['or', '(' + filters + ')']); return this; }
  match(obj) { for (const k of Object.keys(obj)) this.eq(k, obj[k]); return this; }
  order(c, opts = {}) { this._q.push(['order', c + '.' + (opts.ascending === false ? 'desc' : 'asc') + (opts.nullsFirst === undefined ? '' : opts.nullsFirst ? '.nullsfirst' : '.nullslast')]); return this; }
  limit(n) { this._q.push(['limit', String(n)]); return this; }
  range(a, b) { this._q.push(['offset', String(a)], ['limit', String(b - a + 1)]); return this; }
  single() { this._single = 'single'; return this; }
  maybeSingle() { this._single = 'maybe'; return this; }
  then(ok, fail) { return this._run().then(ok, fail); }
  catch(fail) { return this._run().catch(fail); }
  async _run() {
    if (this._m !== 'GET' && this._m !== 'HEAD' && !this._prefer.some((p) => p.startsWith('return='))) this._prefer.push('return=minimal');
    const query = new URLSearchParams(this._q).toString();
    const headers = {};
    if (this._prefer.length) headers.prefer = this._prefer.join(',');
    if (this._single) headers.accept = 'application/vnd.pgrst.object+json';
    const out = await H.db.apply(undefined, [{ method: this._m, table: this._t, query, headers, body: this._body === undefined ? null : JSON.stringify(this._body) }], ASYNC);
    if (out.error) throw new Error(out.error);
    const r = out.ok;
    let body = null;
    if (r.body) { try { body = JSON.parse(r.body); } catch { body = r.body; } }
    const range = r.headers['content-range'];
    const count = range && range.includes('/') && range.split('/')[1] !== '*' ? Number(range.split('/')[1]) : null;
    if (r.status >= 400) {
      if (this._single === 'maybe' && body && body.code === 'PGRST116' && /0 rows/.test(String(body.details))) return { data: null, error: null, count, status: 200, statusText: 'OK' };
      return { data: null, error: body, count: null, status: r.status, statusText: '' };
    }
    return { data: body, error: null, count, status: r.status, statusText: '' };
  }
}
const db = Object.freeze({ from: (t) => new QueryBuilder(t) });
// env.notify: the notifications runtime's send (same body as POST /notifications/v1/send), answering { data, error }.
const notify = Object.freeze({
  async send(message) {
    let body;
    try { body = JSON.stringify(message); } catch { throw new TypeError('env.notify.send takes a JSON object'); }
    const out = await H.notify.apply(undefined, [String(body)], ASYNC);
    if (out.error) throw new Error(out.error);
    const r = out.ok;
    let parsed = null;
    if (r.body) { try { parsed = JSON.parse(r.body); } catch { parsed = { message: r.body }; } }
    return r.status >= 400 ? { data: null, error: Object.assign({ status: r.status }, parsed) } : { data: parsed, error: null };
  },
});

// ---- globals and the entry point ------------------------------------------------------------------------------
const defs = { TextEncoder, TextDecoder, atob, btoa, URL, URLSearchParams, Headers, Request, Response, FormData, Blob, File, crypto, structuredClone, setTimeout, clearTimeout, queueMicrotask, console, fetch };
for (const k of Object.keys(defs)) Object.defineProperty(G, k, { value: defs[k], writable: true, configurable: true, enumerable: false });
// WebAssembly memory lives outside the V8 heap that the isolate's memory limit watches (measured: a function could
// commit gigabytes of it), and a function, being one module without imports, has no .wasm to load anyway.
delete G.WebAssembly;

Object.defineProperty(G, '__plinthInvoke', {
  configurable: true,
  value: async function (req, envInit, maxBytes) {
    const mod = G.__plinthModule;
    const handler = mod && (mod.default || mod);
    const fetchFn = handler && (typeof handler.fetch === 'function' ? handler.fetch.bind(handler) : typeof handler === 'function' ? handler : null);
    if (!fetchFn) throw new TypeError('The function module must export default { fetch(request, env, ctx) }');
    const init = { method: req.method, headers: req.headers, body: req.body && req.body.length && req.method !== 'GET' && req.method !== 'HEAD' ? req.body : undefined };
    TRUSTED_INITS.add(init);
    const request = new Request(req.url, init);
    const env = Object.freeze({ db, notify, secrets: Object.freeze(Object.assign({}, envInit.secrets)), auth: Object.freeze({ user: envInit.user ? Object.freeze(envInit.user) : null }) });
    const waits = [];
    const ctx = Object.freeze({ waitUntil(p) { waits.push(Promise.resolve(p).catch(() => undefined)); }, passThroughOnException() {} });
    let res = await fetchFn(request, env, ctx);
    if (!(res instanceof Response)) {
      if (res && typeof res === 'object' && typeof res.status === 'number' && 'headers' in res) res = new Response(res._body === undefined ? null : res._body, res);
      else throw new TypeError('The function must return a Response (got ' + (res === null ? 'null' : typeof res) + ')');
    }
    if (waits.length) await Promise.all(waits);
    const body = res._body;
    if (body && body.length > maxBytes) return { tooLarge: body.length };
    return { status: res.status, headers: res.headers._pairs(), body };
  },
});
})();
`;
