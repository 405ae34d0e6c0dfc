#!/usr/bin/env node
// sbbroker: a small AMQP 1.0 TEST broker that behaves enough like Azure Service Bus for the real
// Go client (github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus) to send, receive in
// peek-lock, complete, abandon, dead-letter and use naive sessions against it.
//
// It is a test peer, not a product part. Its limits are listed in README.md next to this file.
//
//   node broker.js --port 0 --control-port 0 [--host 127.0.0.1] [--watch-stdin] [--verbose]
//
// prints one JSON line {"amqpPort":N,"controlPort":M} on stdout once both listeners are ready.
// Logs go to stderr.
'use strict';

const crypto = require('crypto');
const http = require('http');
const rhea = require('rhea');

// rhea internals used below (rhea is pinned to an exact version in package.json):
//  - message.decode is wrapped to keep the raw bytes of every incoming message, so the bare
//    message (properties, application properties, body) is stored and re-sent byte for byte
//    (AMQP 1.0 §3.2: the bare message is immutable), keeping AMQP types such as long vs int.
//  - link.state is reset to hold back the attach answer of a session receiver while no session
//    is available (Service Bus holds the attach until a session can be locked or a timeout).
//  - session.outgoing is read to count deliveries handed to rhea but not yet transferred.
const types = rhea.types;
const amqpMessage = rhea.message;
const terminus = require('rhea/lib/terminus.js');

const originalDecode = amqpMessage.decode;
amqpMessage.decode = function (buffer) {
    const m = originalDecode(buffer);
    Object.defineProperty(m, '__raw', { value: Buffer.from(buffer), enumerable: false });
    return m;
};

// ---------------------------------------------------------------------------------------------
// options

function parseArgs(argv) {
    const opts = {
        host: '127.0.0.1',
        port: 0,
        controlPort: 0,
        watchStdin: false,
        verbose: !!process.env.SBBROKER_VERBOSE,
        sessionAcceptTimeoutMs: 60000,
        lockDurationMs: 60000,
    };
    for (let i = 2; i < argv.length; i++) {
        const a = argv[i];
        const next = () => {
            if (i + 1 >= argv.length) fatal(`missing value for ${a}`);
            return argv[++i];
        };
        switch (a) {
        case '--host': opts.host = next(); break;
        case '--port': opts.port = Number(next()); break;
        case '--control-port': opts.controlPort = Number(next()); break;
        case '--watch-stdin': opts.watchStdin = true; break;
        case '--verbose': opts.verbose = true; break;
        case '--session-accept-timeout-ms': opts.sessionAcceptTimeoutMs = Number(next()); break;
        case '--lock-duration-ms': opts.lockDurationMs = Number(next()); break;
        case '-h': case '--help':
            process.stdout.write('usage: node broker.js --port N --control-port M [--host H] [--watch-stdin] [--verbose]\n' +
                '       [--session-accept-timeout-ms MS] [--lock-duration-ms MS]\n');
            process.exit(0);
            break;
        default:
            fatal(`unknown argument ${a}`);
        }
    }
    return opts;
}

function fatal(msg) {
    process.stderr.write(`sbbroker: ${msg}\n`);
    process.exit(2);
}

const OPTS = parseArgs(process.argv);

function log(...args) {
    process.stderr.write(`[${new Date().toISOString()}] sbbroker: ${args.join(' ')}\n`);
}
function debug(...args) {
    if (OPTS.verbose) log(...args);
}

// ---------------------------------------------------------------------------------------------
// constants

const SESSION_FILTER = 'com.microsoft:session-filter';
const SESSION_FILTER_CODE = 0x137000000C;
const DLQ_SUFFIX = '/$DeadLetterQueue';
const MGMT_SUFFIX = '/$management';
const EPOCH_TICKS = 621355968000000000n; // 0001-01-01 to 1970-01-01 in 100 ns ticks

const SECTION = {
    header: 0x70,
    deliveryAnnotations: 0x71,
    messageAnnotations: 0x72,
    properties: 0x73,
    applicationProperties: 0x74,
    data: 0x75,
    sequence: 0x76,
    value: 0x77,
    footer: 0x78,
};
const SECTION_BY_SYMBOL = {
    'amqp:header:list': 0x70,
    'amqp:delivery-annotations:map': 0x71,
    'amqp:message-annotations:map': 0x72,
    'amqp:properties:list': 0x73,
    'amqp:application-properties:map': 0x74,
    'amqp:data:binary': 0x75,
    'amqp:amqp-sequence:list': 0x76,
    'amqp:amqp-value:*': 0x77,
    'amqp:footer:map': 0x78,
};
// message annotations the broker owns and overwrites on every delivery
const BROKER_ANNOTATIONS = new Set([
    'x-opt-enqueued-time', 'x-opt-sequence-number', 'x-opt-locked-until', 'x-opt-message-state',
    'x-opt-enqueue-sequence-number', 'x-opt-deadletter-source',
]);

// ---------------------------------------------------------------------------------------------
// state

const state = {
    queues: new Map(), // lower-case name -> Queue
    autoCreateQueues: true,
    cbsFault: null, // {status, description}
    cbsTokens: [], // {audience, type, expiration, token, at}
    connections: new Set(),
    totalConnections: 0,
    waiters: new Set(), // control API long polls
};
const locks = new Map(); // lock token hex -> StoredMessage

class SubQueue {
    constructor(queue, dead) {
        this.queue = queue;
        this.dead = dead;
        this.messages = []; // StoredMessage, ordered by sequence number
        this.consumers = []; // Consumer
    }
    get entity() {
        return this.dead ? this.queue.name + DLQ_SUFFIX : this.queue.name;
    }
}

class Queue {
    constructor(name, options) {
        this.name = name;
        this.nextSequence = 1;
        this.pendingAcceptors = []; // session receivers waiting for a session
        this.sessionLocks = new Map(); // session id -> Consumer
        this.faults = {};
        this.stats = newStats();
        this.configure(options || {});
        this.active = new SubQueue(this, false);
        this.dlq = new SubQueue(this, true);
    }
    configure(options) {
        this.maxDeliveryCount = positiveInt(options.maxDeliveryCount, 10);
        this.requiresSession = !!options.requiresSession;
        this.lockDurationMs = positiveInt(options.lockDurationMs, OPTS.lockDurationMs);
        this.sessionAcceptTimeoutMs = positiveInt(options.sessionAcceptTimeoutMs, OPTS.sessionAcceptTimeoutMs);
    }
    describe() {
        return {
            name: this.name,
            maxDeliveryCount: this.maxDeliveryCount,
            requiresSession: this.requiresSession,
            lockDurationMs: this.lockDurationMs,
            sessionAcceptTimeoutMs: this.sessionAcceptTimeoutMs,
            activeMessageCount: this.active.messages.length,
            deadLetterMessageCount: this.dlq.messages.length,
            lockedSessions: Array.from(this.sessionLocks.keys()),
            pendingSessionReceivers: this.pendingAcceptors.length,
            receivers: this.active.consumers.length,
            deadLetterReceivers: this.dlq.consumers.length,
            faults: this.faults,
            stats: this.stats,
        };
    }
}

function newStats() {
    return {
        received: 0, rejectedSends: 0, delivered: 0, completed: 0, abandoned: 0, released: 0,
        deadLettered: 0, maxDeliveryCountExceeded: 0, lockLost: 0,
    };
}

function positiveInt(v, dflt) {
    const n = Number(v);
    return Number.isInteger(n) && n > 0 ? n : dflt;
}

function queueKey(name) {
    return String(name).toLowerCase();
}

function getQueue(name, create) {
    const key = queueKey(name);
    let q = state.queues.get(key);
    if (!q && create) {
        q = new Queue(name, {});
        state.queues.set(key, q);
        debug(`queue ${name} created on demand`);
    }
    return q;
}

// parseAddress turns a link address into {queue, dead, management} or an error string.
function parseAddress(address) {
    if (typeof address !== 'string' || address === '') return { error: 'link has no address' };
    let path = address;
    const m = /^[a-z]+:\/\/[^/]*\/(.*)$/i.exec(path);
    if (m) path = m[1];
    path = path.replace(/^\/+/, '');
    let management = false;
    if (path.endsWith(MGMT_SUFFIX)) {
        management = true;
        path = path.slice(0, -MGMT_SUFFIX.length);
    }
    let dead = false;
    if (path.endsWith(DLQ_SUFFIX)) {
        dead = true;
        path = path.slice(0, -DLQ_SUFFIX.length);
    }
    if (path === '' || path.includes('/')) {
        return { error: `sbbroker supports queues only, not "${address}" (topics and subscriptions are not implemented)` };
    }
    return { queue: path, dead, management };
}

// ---------------------------------------------------------------------------------------------
// stored messages

let messageCounter = 0;

function sectionCode(descriptor) {
    if (!descriptor) return undefined;
    const v = descriptor.value;
    if (typeof v === 'number') return v;
    if (typeof v === 'string') return SECTION_BY_SYMBOL[v];
    return undefined;
}

// storeMessage parses the raw bytes of an incoming message into the parts the broker keeps.
function parseIncoming(raw) {
    const reader = new types.Reader(raw);
    const m = {
        id: ++messageCounter,
        header: {},
        annotations: [], // [keyTyped, valueTyped] from the sender's message annotations
        propertiesRaw: null,
        appProps: null, // [[keyTyped, valueTyped]] or null
        appPropsRaw: null,
        bodyRaw: [],
        footerRaw: null,
    };
    while (reader.remaining()) {
        const start = reader.position;
        const s = reader.read();
        const bytes = raw.slice(start, reader.position);
        switch (sectionCode(s.descriptor)) {
        case SECTION.header: {
            const h = amqpMessage.decode(bytes);
            m.header = {
                durable: h.durable, priority: h.priority, ttl: h.ttl, first_acquirer: h.first_acquirer,
            };
            break;
        }
        case SECTION.deliveryAnnotations:
            break; // hop-by-hop: never forwarded
        case SECTION.messageAnnotations:
            m.annotations = pairs(s.value);
            break;
        case SECTION.properties:
            m.propertiesRaw = bytes;
            break;
        case SECTION.applicationProperties:
            m.appPropsRaw = bytes;
            m.appProps = pairs(s.value);
            break;
        case SECTION.data: case SECTION.sequence: case SECTION.value:
            m.bodyRaw.push(bytes);
            break;
        case SECTION.footer:
            m.footerRaw = bytes;
            break;
        default:
            throw new Error('unrecognised message section');
        }
    }
    const bare = Buffer.concat([m.propertiesRaw, m.appPropsRaw].concat(m.bodyRaw).filter(Boolean));
    m.decoded = bare.length ? originalDecode(bare) : {};
    return m;
}

function pairs(list) {
    const out = [];
    for (let i = 0; i + 1 < list.length; i += 2) out.push([list[i], list[i + 1]]);
    return out;
}

function typedKey(t) {
    return t && t.value !== undefined && t.value !== null ? String(t.value) : String(t);
}

function setAppProp(m, key, value) {
    if (!m.appProps) m.appProps = [];
    const wrapped = types.wrap(value);
    const i = m.appProps.findIndex(([k]) => typedKey(k) === key);
    if (i >= 0) m.appProps[i] = [m.appProps[i][0], wrapped];
    else m.appProps.push([types.wrap_string(key), wrapped]);
    m.appPropsRaw = null; // re-encode
}

function appPropsBytes(m) {
    if (m.appPropsRaw) return m.appPropsRaw;
    if (!m.appProps) return null;
    const items = [];
    for (const [k, v] of m.appProps) items.push(k, v);
    const w = new types.Writer();
    w.write(types.described_nc(types.wrap_ulong(SECTION.applicationProperties), types.Map32(items)));
    m.appPropsRaw = w.toBuffer();
    m.decoded = originalDecode(Buffer.concat([m.propertiesRaw, m.appPropsRaw].concat(m.bodyRaw).filter(Boolean)));
    return m.appPropsRaw;
}

function sessionIdOf(m) {
    const g = m.decoded.group_id;
    return g === undefined || g === null ? null : String(g);
}

function toLongTyped(n) {
    return types.wrap_long(n);
}

function ticksBuffer(ms) {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(BigInt(Math.floor(ms)) * 10000n + EPOCH_TICKS);
    return b;
}

// encodeDelivery builds the bytes sent to a receiver: a fresh header (with delivery-count),
// the lock token as delivery annotation, message annotations with the broker's x-opt-* values,
// then the stored bare message unchanged.
function encodeDelivery(m, lockTokenBytes, lockedUntil) {
    const w = new types.Writer();
    const header = { delivery_count: m.failedDeliveries };
    for (const k of ['durable', 'priority', 'ttl', 'first_acquirer']) {
        if (m.header[k] !== undefined && m.header[k] !== null) header[k] = m.header[k];
    }
    w.write(amqpMessage.header(header).described());
    if (lockTokenBytes) {
        w.write(types.described_nc(types.wrap_ulong(SECTION.deliveryAnnotations),
            types.Map32([types.wrap_symbol('x-opt-lock-token'), types.wrap_uuid(lockTokenBytes)])));
    }
    const ann = [];
    for (const [k, v] of m.annotations) {
        if (!BROKER_ANNOTATIONS.has(typedKey(k))) ann.push(k, v);
    }
    ann.push(types.wrap_symbol('x-opt-enqueued-time'), types.wrap_timestamp(m.enqueuedTime));
    ann.push(types.wrap_symbol('x-opt-sequence-number'), toLongTyped(m.sequenceNumber));
    if (lockedUntil) ann.push(types.wrap_symbol('x-opt-locked-until'), types.wrap_timestamp(lockedUntil));
    w.write(types.described_nc(types.wrap_ulong(SECTION.messageAnnotations), types.Map32(ann)));
    const parts = [w.toBuffer()];
    if (m.propertiesRaw) parts.push(m.propertiesRaw);
    const ap = appPropsBytes(m);
    if (ap) parts.push(ap);
    parts.push(...m.bodyRaw);
    if (m.footerRaw) parts.push(m.footerRaw);
    return Buffer.concat(parts);
}

// dotnetGuidBytes converts between RFC 4122 byte order and the .NET Guid byte order Service Bus
// uses for delivery tags (the conversion is its own inverse).
function dotnetGuidBytes(b) {
    const t = Buffer.from(b);
    [t[0], t[3]] = [t[3], t[0]];
    [t[1], t[2]] = [t[2], t[1]];
    [t[4], t[5]] = [t[5], t[4]];
    [t[6], t[7]] = [t[7], t[6]];
    return t;
}

function uuidString(b) {
    const h = b.toString('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function enqueue(sub, m, now) {
    m.sequenceNumber = sub.queue.nextSequence++;
    if (!m.enqueuedTime) m.enqueuedTime = now || Date.now();
    m.failedDeliveries = m.failedDeliveries || 0;
    m.deliveries = m.deliveries || 0;
    m.lock = null;
    m.sub = sub;
    sub.messages.push(m);
    changed(sub.queue);
}

function removeMessage(m) {
    const i = m.sub.messages.indexOf(m);
    if (i >= 0) m.sub.messages.splice(i, 1);
}

function deadLetter(m, reason, description, extraProps) {
    const q = m.sub.queue;
    dropLock(m);
    removeMessage(m);
    for (const [k, v] of Object.entries(extraProps || {})) setAppProp(m, k, v);
    setAppProp(m, 'DeadLetterReason', reason);
    setAppProp(m, 'DeadLetterErrorDescription', description);
    q.stats.deadLettered++;
    enqueue(q.dlq, m, m.enqueuedTime);
    schedulePump();
}

function dropLock(m) {
    if (m.lock) {
        locks.delete(m.lock.token);
        const c = m.lock.consumer;
        if (c) c.unsettled.delete(m);
        m.lock = null;
    }
}

// unlock returns a locked message to the queue. countAsFailed increments its delivery count and
// dead-letters it once the count reaches the queue's maxDeliveryCount.
function unlock(m, countAsFailed, propsToModify) {
    dropLock(m);
    for (const [k, v] of Object.entries(propsToModify || {})) setAppProp(m, k, v);
    const q = m.sub.queue;
    if (countAsFailed) {
        m.failedDeliveries++;
        if (!m.sub.dead && m.failedDeliveries >= q.maxDeliveryCount) {
            q.stats.maxDeliveryCountExceeded++;
            deadLetter(m, 'MaxDeliveryCountExceeded',
                `Message could not be consumed after ${q.maxDeliveryCount} delivery attempts.`);
            return;
        }
    }
    changed(q);
    offerSessions(q);
    schedulePump();
}

// ---------------------------------------------------------------------------------------------
// consumers (receivers of the client = sender links of the broker)

class Consumer {
    constructor(link, sub, sessionId, receiveAndDelete) {
        this.link = link;
        this.sub = sub;
        this.sessionId = sessionId; // null for non-session receivers
        this.receiveAndDelete = receiveAndDelete;
        this.unsettled = new Set();
        this.closed = false;
    }
}

const consumersByLink = new Map(); // rhea link -> Consumer

function pendingTransfers(link) {
    const out = link.session.outgoing;
    let n = 0;
    for (let id = out.next_pending_delivery; id < out.next_delivery_id; id++) {
        const d = out.deliveries.by_id(id);
        if (d && d.link === link) n++;
    }
    return n;
}

function creditLeft(link) {
    if (!link.is_open()) return 0;
    if (!link.session.outgoing.available()) return 0;
    return link.credit - pendingTransfers(link);
}

function nextAvailable(c) {
    for (const m of c.sub.messages) {
        if (m.lock) continue;
        if (c.sessionId !== null && sessionIdOf(m) !== c.sessionId) continue;
        return m;
    }
    return null;
}

function deliver(c, m) {
    const q = c.sub.queue;
    const now = Date.now();
    const tokenBytes = crypto.randomBytes(16);
    tokenBytes[6] = (tokenBytes[6] & 0x0f) | 0x40; // a version 4 UUID, like Service Bus'
    tokenBytes[8] = (tokenBytes[8] & 0x3f) | 0x80;
    const token = uuidString(tokenBytes);
    const lockedUntil = c.receiveAndDelete ? null : now + q.lockDurationMs;
    const payload = encodeDelivery(m, tokenBytes, lockedUntil);
    m.deliveries++;
    q.stats.delivered++;
    if (c.receiveAndDelete) {
        removeMessage(m);
        c.link.send(payload, dotnetGuidBytes(tokenBytes), 0);
        changed(q);
        return;
    }
    const d = c.link.send(payload, dotnetGuidBytes(tokenBytes), 0);
    m.lock = { token, consumer: c, delivery: d, lockedUntil };
    d.sbMessage = m;
    locks.set(token, m);
    c.unsettled.add(m);
    changed(q);
    debug(`delivered #${m.sequenceNumber} of ${c.sub.entity} (lock ${token})`);
}

let pumpScheduled = false;
function schedulePump() {
    if (pumpScheduled) return;
    pumpScheduled = true;
    setImmediate(() => {
        pumpScheduled = false;
        pumpAll();
    });
}

function pumpAll() {
    for (const q of state.queues.values()) {
        pump(q.active);
        pump(q.dlq);
    }
}

function pump(sub) {
    let progress = true;
    while (progress) {
        progress = false;
        for (let i = 0; i < sub.consumers.length; i++) {
            const c = sub.consumers[i];
            if (c.closed || creditLeft(c.link) <= 0) continue;
            const m = nextAvailable(c);
            if (!m) continue;
            deliver(c, m);
            progress = true;
            // round robin: move this consumer to the end
            sub.consumers.splice(i, 1);
            sub.consumers.push(c);
            break;
        }
    }
    // A receiver asking to drain (azservicebus v1.11.0 never does) gets its spare credit used up.
    for (const c of sub.consumers) {
        if (!c.closed && c.link._draining && c.link.credit > 0 && !nextAvailable(c)) {
            c.link.set_drained(true);
            c.link.connection._register();
        }
    }
}

function removeConsumer(c, reason) {
    if (c.closed) return;
    c.closed = true;
    consumersByLink.delete(c.link);
    const sub = c.sub;
    const i = sub.consumers.indexOf(c);
    if (i >= 0) sub.consumers.splice(i, 1);
    const q = sub.queue;
    if (c.sessionId !== null && q.sessionLocks.get(c.sessionId) === c) q.sessionLocks.delete(c.sessionId);
    // Messages the receiver still held go back. For non-session entities this stands in for the
    // lock expiring (delivery count + 1); on a session the count is left alone, as Service Bus does
    // when a session lock is released.
    for (const m of Array.from(c.unsettled)) {
        // the link is gone: no disposition will come, so let rhea free the delivery
        const d = m.lock && m.lock.delivery;
        if (d) {
            d.sbMessage = undefined;
            d.settled = true;
            d.remote_settled = true;
        }
        q.stats.lockLost++;
        unlock(m, c.sessionId === null);
    }
    debug(`receiver on ${sub.entity}${c.sessionId !== null ? ` (session ${c.sessionId})` : ''} closed: ${reason}`);
    offerSessions(q);
    changed(q);
    schedulePump();
}

// ---------------------------------------------------------------------------------------------
// sessions

function sessionFilterOf(link) {
    const src = link.remote.attach && link.remote.attach.source;
    const filter = src && src.filter;
    if (!filter || !Object.prototype.hasOwnProperty.call(filter, SESSION_FILTER)) return { present: false };
    const f = filter[SESSION_FILTER];
    let v = f;
    if (f && typeof f === 'object' && 'value' in f) v = f.value;
    if (v && typeof v === 'object' && 'value' in v) v = v.value;
    return { present: true, sessionId: v === undefined || v === null ? null : String(v) };
}

// linkTimeoutMs is how long a session receiver's attach is held when no session is available:
// the queue's sessionAcceptTimeoutMs (default: the broker's --session-accept-timeout-ms, 60 s),
// or less when the client sends its own deadline as com.microsoft:timeout. The broker answers
// well before that deadline (a quarter early, at most 2 s) so that the client gets
// com.microsoft:timeout (CodeTimeout) rather than its own context error even on a loaded machine.
function linkTimeoutMs(link, q) {
    const serverMax = q.sessionAcceptTimeoutMs;
    const props = link.remote.attach && link.remote.attach.properties;
    const t = props && props['com.microsoft:timeout'];
    const n = Number(t && typeof t === 'object' && 'value' in t ? t.value : t);
    if (!Number.isFinite(n) || n <= 0) return serverMax;
    return Math.max(1, Math.min(serverMax, Math.floor(n - Math.min(2000, n / 4))));
}

// nextFreeSession is the session of the oldest available message whose session is not locked.
function nextFreeSession(q) {
    for (const m of q.active.messages) {
        if (m.lock) continue;
        const sid = sessionIdOf(m);
        if (sid === null || q.sessionLocks.has(sid)) continue;
        return sid;
    }
    return null;
}

function offerSessions(q) {
    while (q.pendingAcceptors.length) {
        const sid = nextFreeSession(q);
        if (sid === null) return;
        const p = q.pendingAcceptors.shift();
        clearTimeout(p.timer);
        if (!linkAlive(p.link)) continue;
        completeSessionAttach(p.link, q, sid, p.receiveAndDelete);
    }
}

function linkAlive(link) {
    return link.session.is_remote_open() && link.connection.is_remote_open() && link.state.remote_open;
}

function completeSessionAttach(link, q, sid, receiveAndDelete) {
    const c = new Consumer(link, q.active, sid, receiveAndDelete);
    q.sessionLocks.set(sid, c);
    const src = remoteSourceFields(link);
    src.filter = { [SESSION_FILTER]: types.described_nc(types.wrap_ulong(SESSION_FILTER_CODE), types.wrap_string(sid)) };
    link.local.attach.source = terminus.source(src).described();
    link.local.attach.properties = { 'com.microsoft:locked-until-utc': types.wrap_long(ticksBuffer(Date.now() + q.lockDurationMs)) };
    if (link.state.local_open) {
        // not yet sent: the attach answer goes out on rhea's next tick
    } else {
        link.open();
    }
    q.active.consumers.push(c);
    consumersByLink.set(link, c);
    debug(`session ${sid} of ${q.name} locked`);
    changed(q);
    schedulePump();
}

function holdAttach(link) {
    // Undo rhea's automatic attach answer (see the note at the top); link.open() sends it later.
    link.state.local_open = false;
    link.state.open_requests = Math.max(0, link.state.open_requests - 1);
}

function remoteSourceFields(link) {
    const src = link.remote.attach && link.remote.attach.source;
    const fields = {};
    if (src) {
        for (const k of ['address', 'durable', 'expiry_policy', 'timeout', 'dynamic', 'distribution_mode']) {
            const v = src[k];
            if (v !== undefined && v !== null) fields[k] = v;
        }
    }
    return fields;
}

// refuseAttach answers an attach with a null terminus followed by a detach carrying the error,
// as Service Bus does; the client reports the error from NewReceiver/NewSender.
function refuseAttach(link, condition, description) {
    if (link.is_sender()) link.local.attach.source = null;
    else link.local.attach.target = null;
    if (!link.state.local_open) link.open();
    link.close({ condition, description });
    debug(`refused link to ${describeLinkAddress(link)}: ${condition}: ${description}`);
}

function describeLinkAddress(link) {
    const a = link.remote.attach;
    if (!a) return '?';
    const t = link.is_sender() ? a.source : a.target;
    return t && t.address;
}

function echoSettleModes(link) {
    const a = link.remote.attach;
    if (a.snd_settle_mode !== undefined && a.snd_settle_mode !== null) link.local.attach.snd_settle_mode = a.snd_settle_mode;
    if (a.rcv_settle_mode !== undefined && a.rcv_settle_mode !== null) link.local.attach.rcv_settle_mode = a.rcv_settle_mode;
}

// ---------------------------------------------------------------------------------------------
// AMQP: links opened by the client

const container = rhea.create_container({ id: 'sbbroker' });
const rpcReplyLinks = new Map(); // connection -> Map(address -> broker sender link)

function replyLinksOf(connection) {
    let m = rpcReplyLinks.get(connection);
    if (!m) {
        m = new Map();
        rpcReplyLinks.set(connection, m);
    }
    return m;
}

// client receiver attached: the broker sends on this link
container.on('sender_open', (ctx) => {
    const link = ctx.sender;
    echoSettleModes(link);
    const remote = link.remote.attach;
    const address = remote.source && remote.source.address;
    const target = remote.target && remote.target.address;
    if (address === '$cbs' || (typeof address === 'string' && address.endsWith(MGMT_SUFFIX))) {
        // reply link of the request/response pattern, addressed by the request's reply-to
        link.local.attach.source = terminus.source({ address }).described();
        if (target) replyLinksOf(link.connection).set(target, link);
        return;
    }
    const parsed = parseAddress(address);
    if (parsed.error) return refuseAttach(link, 'amqp:not-implemented', parsed.error);
    if (parsed.management) return refuseAttach(link, 'amqp:not-allowed', 'management links need a reply address');
    const q = getQueue(parsed.queue, state.autoCreateQueues);
    if (!q) return refuseAttach(link, 'amqp:not-found', `The messaging entity '${address}' could not be found.`);
    const receiveAndDelete = remote.snd_settle_mode === 1;
    const filter = sessionFilterOf(link);
    link.local.attach.source = terminus.source(remoteSourceFields(link)).described();
    if (parsed.dead) {
        if (filter.present) return refuseAttach(link, 'amqp:not-allowed', 'A dead-letter queue does not use sessions.');
        addConsumer(new Consumer(link, q.dlq, null, receiveAndDelete));
        return;
    }
    if (q.requiresSession && !filter.present) {
        return refuseAttach(link, 'amqp:not-allowed',
            'It is not possible for an entity that requires sessions to create a non-sessionful message receiver.');
    }
    if (!q.requiresSession && filter.present) {
        return refuseAttach(link, 'amqp:not-allowed',
            'It is not possible for an entity that does not require sessions to create a sessionful message receiver.');
    }
    if (!filter.present) {
        addConsumer(new Consumer(link, q.active, null, receiveAndDelete));
        return;
    }
    if (filter.sessionId !== null) {
        const holder = q.sessionLocks.get(filter.sessionId);
        if (holder && !holder.closed) {
            return refuseAttach(link, 'com.microsoft:session-cannot-be-locked',
                `The requested session '${filter.sessionId}' cannot be accepted. It may be locked by another receiver.`);
        }
        completeSessionAttach(link, q, filter.sessionId, receiveAndDelete);
        return;
    }
    const sid = nextFreeSession(q);
    if (sid !== null && q.pendingAcceptors.length === 0) {
        completeSessionAttach(link, q, sid, receiveAndDelete);
        return;
    }
    holdAttach(link);
    const pending = { link, receiveAndDelete };
    pending.timer = setTimeout(() => {
        const i = q.pendingAcceptors.indexOf(pending);
        if (i < 0) return;
        q.pendingAcceptors.splice(i, 1);
        if (!linkAlive(link)) return;
        refuseAttach(link, 'com.microsoft:timeout',
            'The operation did not complete within the allotted timeout: no session is available.');
    }, linkTimeoutMs(link, q));
    q.pendingAcceptors.push(pending);
    debug(`session receiver on ${q.name} waits for a session (up to ${linkTimeoutMs(link, q)} ms)`);
});

function addConsumer(c) {
    c.sub.consumers.push(c);
    consumersByLink.set(c.link, c);
    changed(c.sub.queue);
    schedulePump();
}

// client sender attached: the broker receives on this link
container.on('receiver_open', (ctx) => {
    const link = ctx.receiver;
    echoSettleModes(link);
    const remote = link.remote.attach;
    const address = remote.target && remote.target.address;
    link.local.attach.target = terminus.target({ address }).described();
    if (address === '$cbs' || (typeof address === 'string' && address.endsWith(MGMT_SUFFIX))) return;
    const parsed = parseAddress(address);
    if (parsed.error) return refuseAttach(link, 'amqp:not-implemented', parsed.error);
    if (parsed.dead) return refuseAttach(link, 'amqp:not-allowed', 'Cannot send to a dead-letter queue.');
    const q = getQueue(parsed.queue, state.autoCreateQueues);
    if (!q) return refuseAttach(link, 'amqp:not-found', `The messaging entity '${address}' could not be found.`);
    const fault = q.faults.send;
    if (fault && fault.on === 'attach') {
        q.stats.rejectedSends++;
        return refuseAttach(link, fault.condition, fault.description);
    }
    link.local.attach.max_message_size = 262144;
});

container.on('message', (ctx) => {
    const link = ctx.receiver;
    const delivery = ctx.delivery;
    const address = link.remote.attach.target && link.remote.attach.target.address;
    try {
        if (address === '$cbs') return answerCbs(link, ctx.message, delivery);
        if (typeof address === 'string' && address.endsWith(MGMT_SUFFIX)) return answerManagement(link, ctx.message, delivery, address);
        acceptSend(link, ctx, delivery, address);
    } catch (e) {
        log(`error handling a message to ${address}: ${e.stack || e}`);
        delivery.reject({ condition: 'amqp:internal-error', description: `sbbroker: ${e.message}` });
    }
});

const BATCH_FORMAT = 0x80013700; // Service Bus batch: each data section holds one encoded message

// batchParts returns the encoded messages inside a batch envelope.
function batchParts(envelope) {
    const reader = new types.Reader(envelope);
    const parts = [];
    while (reader.remaining()) {
        const s = reader.read();
        if (sectionCode(s.descriptor) === SECTION.data) parts.push(Buffer.from(s.value));
    }
    return parts;
}

function acceptSend(link, ctx, delivery, address) {
    const parsed = parseAddress(address);
    const q = getQueue(parsed.queue, state.autoCreateQueues);
    if (!q) return delivery.reject({ condition: 'amqp:not-found', description: `The messaging entity '${address}' could not be found.` });
    const fault = q.faults.send;
    if (fault && fault.on !== 'attach') {
        q.stats.rejectedSends++;
        debug(`send to ${q.name} refused by injected fault ${fault.condition}`);
        return delivery.reject({ condition: fault.condition, description: fault.description });
    }
    let raws;
    if (ctx.format === undefined || ctx.format === 0) {
        raws = [ctx.message.__raw];
    } else if (ctx.format === BATCH_FORMAT) {
        raws = batchParts(ctx.message);
    } else {
        q.stats.rejectedSends++;
        return delivery.reject({ condition: 'amqp:not-implemented', description: `sbbroker: unknown message format ${ctx.format}` });
    }
    const msgs = raws.map(parseIncoming);
    if (q.requiresSession && msgs.some((m) => sessionIdOf(m) === null)) {
        q.stats.rejectedSends++;
        return delivery.reject({
            condition: 'amqp:not-allowed',
            description: 'The SessionId was not set on a message, and it cannot be sent to the entity. Entities that have session support enabled can only receive messages that have the SessionId set to a valid value.',
        });
    }
    const now = Date.now();
    for (const m of msgs) {
        enqueue(q.active, m, now);
        q.stats.received++;
        debug(`enqueued #${m.sequenceNumber} on ${q.name}`);
    }
    delivery.accept();
    offerSessions(q);
    schedulePump();
}

// ---------------------------------------------------------------------------------------------
// request/response: $cbs and <entity>/$management

function reply(link, request, status, description, body) {
    const replyTo = request.reply_to;
    const out = replyTo && replyLinksOf(link.connection).get(replyTo);
    if (!out) {
        log(`no reply link for ${replyTo}; dropping the answer to ${request.application_properties && request.application_properties.operation}`);
        return;
    }
    const msg = {
        correlation_id: request.message_id,
        application_properties: {
            'status-code': types.wrap_int(status),
            'status-description': description,
        },
    };
    if (body !== undefined) msg.body = body;
    out.send(msg);
}

function answerCbs(link, msg, delivery) {
    delivery.accept();
    const ap = msg.application_properties || {};
    const record = {
        operation: ap.operation, audience: ap.name, type: ap.type, expiration: ap.expiration !== undefined ? String(ap.expiration) : undefined,
        token: typeof msg.body === 'string' ? msg.body : undefined, at: new Date().toISOString(),
    };
    if (ap.operation !== 'put-token') {
        return reply(link, msg, 400, `sbbroker: unsupported $cbs operation ${ap.operation}`);
    }
    if (state.cbsFault) {
        record.refused = state.cbsFault.status;
        state.cbsTokens.push(record);
        return reply(link, msg, state.cbsFault.status, state.cbsFault.description);
    }
    state.cbsTokens.push(record);
    if (state.cbsTokens.length > 1000) state.cbsTokens.shift();
    reply(link, msg, 202, 'Accepted');
}

function answerManagement(link, msg, delivery, address) {
    delivery.accept();
    const ap = msg.application_properties || {};
    const op = ap.operation;
    const parsed = parseAddress(address);
    const q = parsed.error ? null : getQueue(parsed.queue, state.autoCreateQueues);
    if (!q) return reply(link, msg, 404, `The messaging entity '${address}' could not be found.`);
    const body = msg.body || {};
    switch (op) {
    case 'com.microsoft:renew-lock': {
        const expirations = [];
        for (const t of asArray(body['lock-tokens'])) {
            const m = locks.get(uuidString(Buffer.from(t)));
            if (!m) return reply(link, msg, 410, 'The lock supplied is invalid. Either the lock expired, or the message has already been removed from the queue.');
            m.lock.lockedUntil = Date.now() + q.lockDurationMs;
            expirations.push(m.lock.lockedUntil);
        }
        return reply(link, msg, 200, 'OK', { expirations: types.wrap_array(expirations, 0x83) });
    }
    case 'com.microsoft:renew-session-lock': {
        const sid = body['session-id'];
        const holder = q.sessionLocks.get(String(sid));
        if (!holder) return reply(link, msg, 410, `The session lock has expired on the MessageSession. Session '${sid}' is not locked.`);
        return reply(link, msg, 200, 'OK', { expiration: new Date(Date.now() + q.lockDurationMs) });
    }
    case 'com.microsoft:update-disposition': {
        const status = body['disposition-status'];
        for (const t of asArray(body['lock-tokens'])) {
            const m = locks.get(uuidString(Buffer.from(t)));
            if (!m) return reply(link, msg, 410, 'The lock supplied is invalid. Either the lock expired, or the message has already been removed from the queue.');
            const err = settle(m, status, {
                reason: body['deadletter-reason'], description: body['deadletter-description'], props: body['properties-to-modify'],
            });
            if (err) return reply(link, msg, 404, err);
        }
        return reply(link, msg, 200, 'OK', {});
    }
    default:
        // 404 rather than 501: the client retries a 501 with backoff (about 45 s with default
        // RetryOptions) but gives up at once on a 404, so an unsupported call fails fast and says why.
        log(`unsupported management operation ${op} on ${address}`);
        return reply(link, msg, 404, `sbbroker does not implement ${op} (see standin/sbbroker/README.md)`);
    }
}

function asArray(v) {
    if (v === undefined || v === null) return [];
    return Array.isArray(v) ? v : [v];
}

// settle applies a settlement to a locked message; it returns an error string when the
// settlement is not supported.
function settle(m, status, opts) {
    const q = m.sub.queue;
    switch (status) {
    case 'completed':
        dropLock(m);
        removeMessage(m);
        q.stats.completed++;
        changed(q);
        offerSessions(q);
        schedulePump();
        return null;
    case 'abandoned':
        q.stats.abandoned++;
        unlock(m, true, opts.props);
        return null;
    case 'released':
        q.stats.released++;
        unlock(m, false);
        return null;
    case 'suspended': {
        const extra = Object.assign({}, opts.props || {});
        deadLetter(m, opts.reason === undefined || opts.reason === null ? '' : String(opts.reason),
            opts.description === undefined || opts.description === null ? '' : String(opts.description), extra);
        return null;
    }
    default:
        unlock(m, false);
        return `sbbroker does not implement the disposition "${status}" (deferral is not supported)`;
    }
}

// ---------------------------------------------------------------------------------------------
// dispositions from receivers

function onOutcome(ctx, kind) {
    const d = ctx.delivery;
    const m = d.sbMessage;
    if (!m) return;
    d.sbMessage = undefined;
    let err = null;
    if (!m.lock || m.lock.delivery !== d) {
        err = { condition: 'com.microsoft:message-lock-lost', description: 'The lock supplied is invalid. Either the lock expired, or the message has already been removed from the queue.' };
    } else {
        const state_ = d.remote_state || {};
        switch (kind) {
        case 'accepted':
            settle(m, 'completed', {});
            break;
        case 'released':
            settle(m, 'released', {});
            break;
        case 'modified':
            if (state_.undeliverable_here) {
                settle(m, 'released', {});
                err = { condition: 'amqp:not-implemented', description: 'sbbroker does not implement deferral' };
            } else {
                settle(m, 'abandoned', { props: state_.message_annotations });
            }
            break;
        case 'rejected': {
            const e = state_.error || {};
            const info = Object.assign({}, e.info || {});
            const reason = info.DeadLetterReason;
            const description = info.DeadLetterErrorDescription;
            delete info.DeadLetterReason;
            delete info.DeadLetterErrorDescription;
            settle(m, 'suspended', {
                reason: reason !== undefined ? reason : e.condition,
                description: description !== undefined ? description : e.description,
                props: info,
            });
            break;
        }
        }
    }
    if (!d.remote_settled) {
        // Receivers in peek-lock use rcv-settle-mode "second": they wait for the broker to settle.
        if (err) d.update(true, amqpMessage.rejected({ error: err }).described());
        else d.update(true);
        d.remote_settled = true; // the exchange is over; lets rhea free the delivery
    }
}

for (const kind of ['accepted', 'released', 'modified', 'rejected']) {
    container.on(kind, (ctx) => {
        try {
            onOutcome(ctx, kind);
        } catch (e) {
            log(`error settling a delivery: ${e.stack || e}`);
        }
    });
}

container.on('sendable', () => schedulePump());
container.on('sender_draining', () => schedulePump());

// ---------------------------------------------------------------------------------------------
// link, session and connection ends

function forgetLink(link, why) {
    const c = consumersByLink.get(link);
    if (c) removeConsumer(c, why);
    for (const q of state.queues.values()) {
        const i = q.pendingAcceptors.findIndex((p) => p.link === link);
        if (i >= 0) {
            clearTimeout(q.pendingAcceptors[i].timer);
            q.pendingAcceptors.splice(i, 1);
            if (!link.state.local_open) {
                // attach was held back: answer it so the peer's detach is acknowledged properly
                link.local.attach.source = null;
                link.open();
            }
        }
    }
}

container.on('sender_close', (ctx) => forgetLink(ctx.sender, 'detached by the client'));
container.on('sender_error', (ctx) => forgetLink(ctx.sender, 'detached with error'));
container.on('receiver_error', () => {});

function forgetSession(session, why) {
    for (const link of Object.values(session.links)) forgetLink(link, why);
}

function forgetConnection(connection, why) {
    if (!state.connections.has(connection)) return;
    state.connections.delete(connection);
    rpcReplyLinks.delete(connection);
    for (const s of Object.values(connection.local_channel_map || {})) forgetSession(s, why);
    for (const [link, c] of Array.from(consumersByLink)) {
        if (link.connection === connection) removeConsumer(c, why);
    }
    for (const q of state.queues.values()) {
        q.pendingAcceptors = q.pendingAcceptors.filter((p) => {
            if (p.link.connection !== connection) return true;
            clearTimeout(p.timer);
            return false;
        });
    }
    debug(`connection closed: ${why}`);
}

container.on('connection_open', (ctx) => {
    state.connections.add(ctx.connection);
    state.totalConnections++;
    debug(`connection from ${ctx.connection.remote.open && ctx.connection.remote.open.container_id}`);
});
container.on('session_close', (ctx) => forgetSession(ctx.session, 'session ended'));
container.on('session_error', (ctx) => forgetSession(ctx.session, 'session ended with error'));
container.on('connection_close', (ctx) => forgetConnection(ctx.connection, 'closed by the client'));
container.on('connection_error', (ctx) => forgetConnection(ctx.connection, 'closed with error'));
container.on('disconnected', (ctx) => forgetConnection(ctx.connection, 'socket closed'));
container.on('error', (e) => debug(`amqp error: ${e && e.message}`));

// ---------------------------------------------------------------------------------------------
// control API

function changed(q) {
    for (const w of Array.from(state.waiters)) {
        if (w.queue === queueKey(q.name)) w.check();
    }
}

function typeName(t) {
    if (!t || !t.type) return typeof t;
    switch (t.type.name) {
    case 'Str8': case 'Str32': return 'string';
    case 'Sym8': case 'Sym32': return 'symbol';
    case 'Long': case 'SmallLong': return 'long';
    case 'Int': case 'SmallInt': return 'int';
    case 'Short': return 'short';
    case 'Byte': return 'byte';
    case 'Ulong': case 'SmallUlong': case 'Ulong0': return 'ulong';
    case 'Uint': case 'SmallUint': case 'Uint0': return 'uint';
    case 'Ushort': return 'ushort';
    case 'Ubyte': return 'ubyte';
    case 'Double': return 'double';
    case 'Float': return 'float';
    case 'True': case 'False': case 'Boolean': return 'boolean';
    case 'Timestamp': return 'timestamp';
    case 'Vbin8': case 'Vbin32': return 'binary';
    case 'Uuid': return 'uuid';
    case 'Null': return 'null';
    case 'CharUTF32': return 'char';
    default: return t.type.name.toLowerCase();
    }
}

function jsonValue(v) {
    if (v === undefined) return null;
    if (v === null) return null;
    if (Buffer.isBuffer(v)) return { base64: v.toString('base64') };
    if (v instanceof Date) return v.toISOString();
    if (Array.isArray(v)) return v.map(jsonValue);
    if (typeof v === 'object') {
        if (v.type && v.value !== undefined) return jsonValue(types.unwrap(v));
        const o = {};
        for (const [k, x] of Object.entries(v)) o[k] = jsonValue(x);
        return o;
    }
    return v;
}

function scalarJSON(t) {
    const name = typeName(t);
    const v = types.unwrap(t);
    switch (name) {
    case 'long': case 'ulong':
        if (Buffer.isBuffer(v)) return name === 'long' ? v.readBigInt64BE().toString() : v.readBigUInt64BE().toString();
        return v;
    case 'timestamp':
        return v instanceof Date ? v.toISOString() : v;
    case 'binary':
        return Buffer.isBuffer(v) ? v.toString('base64') : v;
    case 'uuid':
        return Buffer.isBuffer(v) ? uuidString(v) : v;
    default:
        return jsonValue(v);
    }
}

function idJSON(v) {
    if (v === undefined || v === null) return undefined;
    if (Buffer.isBuffer(v)) return uuidString(v);
    return String(v);
}

function viewMessage(m) {
    const p = m.decoded || {};
    const out = {
        sequenceNumber: m.sequenceNumber,
        enqueuedTime: new Date(m.enqueuedTime).toISOString(),
        deliveryCount: m.deliveries,
        failedDeliveries: m.failedDeliveries,
        state: m.lock ? 'locked' : 'available',
        messageId: idJSON(p.message_id),
        correlationId: idJSON(p.correlation_id),
        to: p.to,
        subject: p.subject,
        replyTo: p.reply_to,
        sessionId: p.group_id,
        replyToSessionId: p.reply_to_group_id,
        contentType: p.content_type,
        contentEncoding: p.content_encoding,
        timeToLiveMs: m.header.ttl,
        applicationProperties: {},
        applicationPropertyTypes: {},
    };
    if (m.lock) {
        out.lockToken = m.lock.token;
        out.lockedUntil = new Date(m.lock.lockedUntil).toISOString();
    }
    for (const [k, v] of m.appProps || []) {
        const key = typedKey(k);
        out.applicationProperties[key] = scalarJSON(v);
        out.applicationPropertyTypes[key] = typeName(v);
    }
    const reason = out.applicationProperties.DeadLetterReason;
    const description = out.applicationProperties.DeadLetterErrorDescription;
    if (reason !== undefined) out.deadLetterReason = reason;
    if (description !== undefined) out.deadLetterErrorDescription = description;
    const body = p.body;
    if (body && body.constructor && body.typecode === SECTION.data) {
        out.bodyType = 'data';
        const parts = body.multiple ? body.content : [body.content];
        out.body = Buffer.concat(parts.map((b) => Buffer.from(b))).toString('base64');
        if (body.multiple) out.bodySections = parts.length;
    } else if (body && body.constructor && body.typecode === SECTION.sequence) {
        out.bodyType = 'sequence';
        out.value = jsonValue(body.content);
    } else if (m.bodyRaw.length) {
        out.bodyType = 'value';
        out.value = jsonValue(body);
    }
    for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
    return out;
}

function sendJSON(res, status, obj) {
    const body = JSON.stringify(obj);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
}

function readBody(req) {
    return new Promise((resolve, reject) => {
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8').trim();
            if (!text) return resolve({});
            try {
                resolve(JSON.parse(text));
            } catch (e) {
                reject(new Error(`invalid JSON body: ${e.message}`));
            }
        });
        req.on('error', reject);
    });
}

// expireLocks does what lock expiry does on Service Bus: every locked message of a non-session
// queue becomes available again with its delivery count + 1 (settling it later fails with
// com.microsoft:message-lock-lost); on a session queue the session locks are lost too, so the
// session receivers are detached with com.microsoft:session-lock-lost.
function expireLocks(q) {
    let n = 0;
    for (const sub of [q.active, q.dlq]) {
        for (const c of Array.from(sub.consumers)) {
            if (c.sessionId === null) continue;
            n += c.unsettled.size;
            for (const m of Array.from(c.unsettled)) {
                q.stats.lockLost++;
                unlock(m, true);
            }
            removeConsumer(c, 'session lock expired');
            c.link.close({ condition: 'com.microsoft:session-lock-lost', description: `The session lock has expired on the MessageSession. Session '${c.sessionId}' lock was lost.` });
        }
        for (const m of Array.from(sub.messages)) {
            if (!m.lock) continue;
            n++;
            q.stats.lockLost++;
            unlock(m, true);
        }
    }
    return n;
}

function resetQueue(q, options) {
    for (const sub of [q.active, q.dlq]) {
        for (const c of Array.from(sub.consumers)) {
            removeConsumer(c, 'queue reset');
            c.link.close({ condition: 'amqp:link:detach-forced', description: 'sbbroker: the queue was reset' });
        }
        for (const m of sub.messages) dropLock(m);
        sub.messages = [];
    }
    for (const p of q.pendingAcceptors) {
        clearTimeout(p.timer);
        refuseAttach(p.link, 'amqp:link:detach-forced', 'sbbroker: the queue was reset');
    }
    q.pendingAcceptors = [];
    q.sessionLocks.clear();
    q.faults = {};
    q.stats = newStats();
    q.nextSequence = 1;
    q.configure(options);
}

function listWait(req, res, q, dead, url) {
    const wantRaw = url.searchParams.get('wait');
    const sub = () => (dead ? q.dlq : q.active);
    const answer = () => sendJSON(res, 200, sub().messages.map(viewMessage));
    if (wantRaw === null) return answer();
    const want = Number(wantRaw);
    const stateFilter = url.searchParams.get('state');
    const have = () => sub().messages.filter((m) => !stateFilter || (m.lock ? 'locked' : 'available') === stateFilter).length;
    const timeoutMs = Number(url.searchParams.get('timeoutMs') || 30000);
    const waiter = { queue: queueKey(q.name) };
    let done = false;
    const finish = (timedOut) => {
        if (done) return;
        done = true;
        state.waiters.delete(waiter);
        clearTimeout(waiter.timer);
        if (timedOut) res.setHeader('X-Sbbroker-Timeout', 'true');
        answer();
    };
    waiter.check = () => {
        const current = state.queues.get(queueKey(q.name));
        if (current !== q) return finish(false);
        if (have() >= want) finish(false);
    };
    waiter.timer = setTimeout(() => finish(true), timeoutMs);
    res.on('close', () => {
        done = true;
        state.waiters.delete(waiter);
        clearTimeout(waiter.timer);
    });
    state.waiters.add(waiter);
    waiter.check();
}

async function control(req, res) {
    const url = new URL(req.url, 'http://localhost');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const method = req.method;
    if (parts.length === 1 && parts[0] === 'health') return sendJSON(res, 200, { ok: true });
    if (parts.length === 1 && parts[0] === 'stats') {
        const queues = {};
        for (const q of state.queues.values()) queues[q.name] = q.describe();
        return sendJSON(res, 200, {
            connections: state.connections.size, totalConnections: state.totalConnections,
            cbsTokens: state.cbsTokens.length, locks: locks.size, queues,
        });
    }
    if (parts.length === 1 && parts[0] === 'cbs') {
        if (method === 'GET') return sendJSON(res, 200, state.cbsTokens);
    }
    if (parts.length === 2 && parts[0] === 'faults' && parts[1] === 'cbs') {
        if (method === 'PUT') {
            const b = await readBody(req);
            state.cbsFault = { status: positiveInt(b.status, 401), description: b.description || 'sbbroker: injected $cbs failure' };
            return sendJSON(res, 200, state.cbsFault);
        }
        if (method === 'DELETE') {
            state.cbsFault = null;
            return sendJSON(res, 200, {});
        }
    }
    if (parts.length === 1 && parts[0] === 'settings' && method === 'PUT') {
        const b = await readBody(req);
        if (b.autoCreateQueues !== undefined) state.autoCreateQueues = !!b.autoCreateQueues;
        return sendJSON(res, 200, { autoCreateQueues: state.autoCreateQueues });
    }
    if (parts.length === 1 && parts[0] === 'queues' && method === 'GET') {
        return sendJSON(res, 200, Array.from(state.queues.values()).map((q) => q.describe()));
    }
    if (parts.length >= 2 && parts[0] === 'queues') {
        const name = parts[1];
        if (parts.length === 2 && method === 'PUT') {
            const b = await readBody(req);
            let q = getQueue(name, false);
            if (q) resetQueue(q, b);
            else {
                q = new Queue(name, b);
                state.queues.set(queueKey(name), q);
            }
            changed(q);
            return sendJSON(res, 200, q.describe());
        }
        const q = getQueue(name, false);
        if (!q) return sendJSON(res, 404, { error: `no queue ${name}` });
        if (parts.length === 2 && method === 'GET') return sendJSON(res, 200, q.describe());
        if (parts.length === 2 && method === 'DELETE') {
            resetQueue(q, {});
            state.queues.delete(queueKey(name));
            changed(q);
            return sendJSON(res, 200, {});
        }
        if (parts.length === 3 && parts[2] === 'messages' && method === 'GET') return listWait(req, res, q, false, url);
        if (parts.length === 3 && parts[2] === 'deadletter' && method === 'GET') return listWait(req, res, q, true, url);
        if (parts.length === 3 && parts[2] === 'expire-locks' && method === 'POST') {
            return sendJSON(res, 200, { expired: expireLocks(q) });
        }
        if (parts.length === 3 && parts[2] === 'faults') {
            if (method === 'PUT') {
                const b = await readBody(req);
                if (b.send) {
                    const on = b.send.on === 'attach' ? 'attach' : 'transfer';
                    q.faults.send = {
                        condition: b.send.condition || 'amqp:not-found',
                        description: b.send.description || `sbbroker: injected failure for sends to ${q.name}`,
                        on,
                    };
                } else {
                    delete q.faults.send;
                }
                return sendJSON(res, 200, q.faults);
            }
            if (method === 'DELETE') {
                q.faults = {};
                return sendJSON(res, 200, q.faults);
            }
        }
    }
    if (parts.length === 1 && parts[0] === 'shutdown' && method === 'POST') {
        sendJSON(res, 200, {});
        setImmediate(shutdown);
        return undefined;
    }
    return sendJSON(res, 404, { error: `no route ${method} ${url.pathname}` });
}

// ---------------------------------------------------------------------------------------------
// start

let amqpServer;
let controlServer;

// shutdown exits at once: the broker keeps nothing worth flushing, and waiting for clients to
// hang up would only delay the end of a test run.
function shutdown() {
    debug('shutting down');
    process.exit(0);
}

process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
process.on('uncaughtException', (e) => {
    log(`internal error: ${e.stack || e}`);
    process.exit(70);
});

function listen(server, port, host) {
    return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen({ port, host }, () => resolve(server.address().port));
    });
}

async function main() {
    amqpServer = container.listen({
        port: OPTS.port,
        host: OPTS.host,
        reconnect: false,
        tcp_no_delay: true, // small request/response frames: without it Nagle + delayed ACK add ~40 ms per exchange
        treat_modified_as_released: false,
        autoaccept: false,
    });
    const amqpPort = await new Promise((resolve, reject) => {
        amqpServer.once('error', reject);
        if (amqpServer.listening) resolve(amqpServer.address().port);
        else amqpServer.once('listening', () => resolve(amqpServer.address().port));
    });
    controlServer = http.createServer((req, res) => {
        control(req, res).catch((e) => sendJSON(res, 400, { error: e.message }));
    });
    const controlPort = await listen(controlServer, OPTS.controlPort, OPTS.host);
    if (OPTS.watchStdin) {
        process.stdin.on('end', shutdown);
        process.stdin.on('error', shutdown);
        process.stdin.resume();
    }
    process.stdout.write(JSON.stringify({ amqpPort, controlPort }) + '\n');
    debug(`listening: amqp ${OPTS.host}:${amqpPort}, control http://${OPTS.host}:${controlPort}`);
}

main().catch((e) => fatal(e.stack || String(e)));
