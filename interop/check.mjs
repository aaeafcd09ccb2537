// The interoperability check: a charge point that nobody here wrote
// (ocpp-rpc, in strict mode, which checks every message in both directions
// against the OCPP 1.6 JSON schemas) against a running central system.
// It sends every message a charge point sends, answers every call the
// operator API can make, and checks that each answer reaches the operator
// as the station gave it.
//
//   node interop/check.mjs --url ws://127.0.0.1:8080/ocpp [--api http://127.0.0.1:8080]
//                          [--key SECRET] [--stations 50] [--prefix INTEROP]
//
// The operator token, where the server wants one, comes from API_TOKEN (or
// OCPP_API_TOKEN) in the environment, never the command line.
//
// It prints a line per check and exits 1 if any failed. make interop runs it.
import rpc from 'ocpp-rpc';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { RPCClient, createRPCError, NOREPLY } = rpc;

const { values: opts } = parseArgs({
    options: {
        url: { type: 'string', default: 'ws://127.0.0.1:8080/ocpp' },
        api: { type: 'string' },
        key: { type: 'string' },
        token: { type: 'string', default: process.env.API_TOKEN || process.env.OCPP_API_TOKEN },
        stations: { type: 'string', default: '50' },
        prefix: { type: 'string', default: 'INTEROP' },
    },
});
const url = opts.url.replace(/\/+$/, '');
const api = (opts.api ?? url.replace(/^ws/, 'http').replace(/\/ocpp$/, '')).replace(/\/+$/, ''); // wss:// → https://
const version = JSON.parse(readFileSync(new URL('./node_modules/ocpp-rpc/package.json', import.meta.url))).version;

const results = [];
function record(name, err) {
    results.push({ name, err });
    console.log(err ? `FAIL ${name}: ${err.message ?? err}` : `ok   ${name}`);
}
async function check(name, fn) {
    try {
        await fn();
        record(name);
    } catch (err) {
        record(name, err);
    }
}
function must(cond, why) {
    if (!cond) throw new Error(why);
}

// sameJSON compares two payloads as OCPP means them: dates by the instant
// they name (a server may write 10:00:00Z for 10:00:00.000Z), numbers by
// value, objects whatever the order of their keys.
function sameJSON(a, b) {
    if (typeof a === 'string' && typeof b === 'string') {
        if (a === b) return true;
        const iso = /^\d{4}-\d\d-\d\dT/;
        return iso.test(a) && iso.test(b) && Date.parse(a) === Date.parse(b);
    }
    if (Array.isArray(a) || Array.isArray(b)) {
        return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => sameJSON(v, b[i]));
    }
    if (a && b && typeof a === 'object' && typeof b === 'object') {
        const ka = Object.keys(a).sort(), kb = Object.keys(b).sort();
        return sameJSON(ka, kb) && ka.every(k => sameJSON(a[k], b[k]));
    }
    return a === b;
}
const show = v => JSON.stringify(v);

// A charge point, strict in both directions. Every strict-mode failure
// (a call or an answer of the server's that breaks the schema) is kept, and
// fails the check that was running.
function chargePoint(identity, extra = {}) {
    const cp = new RPCClient({
        endpoint: url, identity, protocols: ['ocpp1.6'], strictMode: true,
        password: opts.key, reconnect: false, callTimeoutMs: 10000, ...extra,
    });
    cp.violations = [];
    cp.on('strictValidationFailure', ev => {
        cp.violations.push(`${ev.outbound ? 'we' : 'the server'} sent ${ev.method} ${ev.isCall ? 'call' : 'answer'} breaking the schema: ${ev.error?.message}`);
    });
    cp.on('badMessage', ev => cp.violations.push(`bad message from the server: ${ev.error?.message}: ${ev.buffer}`));
    return cp;
}
function clean(cp) {
    must(cp.violations.length === 0, cp.violations.join('; '));
}

async function callAPI(station, action, body) {
    const headers = { 'Content-Type': 'application/json' };
    if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
    const res = await fetch(`${api}/api/stations/${encodeURIComponent(station)}/${action}`, {
        method: 'POST', headers, body: JSON.stringify(body),
    });
    const text = await res.text();
    let json;
    try { json = JSON.parse(text); } catch { json = text; }
    return { status: res.status, body: json };
}

const now = () => new Date().toISOString();
const later = s => new Date(Date.now() + s * 1000).toISOString();

// The calls the operator API makes to a station: each with a request the
// schema allows and the answer the charge point gives.
const operatorCalls = [
    ['ChangeAvailability', { connectorId: 1, type: 'Inoperative' }, { status: 'Accepted' }],
    ['ChangeConfiguration', { key: 'HeartbeatInterval', value: '300' }, { status: 'Accepted' }],
    ['ClearCache', {}, { status: 'Accepted' }],
    ['DataTransfer', { vendorId: 'com.example', messageId: 'ping', data: 'hello' }, { status: 'Accepted', data: 'pong' }],
    ['GetConfiguration', { key: ['HeartbeatInterval'] }, { configurationKey: [{ key: 'HeartbeatInterval', readonly: false, value: '300' }] }],
    ['RemoteStartTransaction', { idTag: 'OPERATOR1', connectorId: 1 }, { status: 'Accepted' }],
    ['RemoteStopTransaction', { transactionId: 1 }, { status: 'Accepted' }],
    ['Reset', { type: 'Soft' }, { status: 'Accepted' }],
    ['UnlockConnector', { connectorId: 1 }, { status: 'Unlocked' }],
    ['TriggerMessage', { requestedMessage: 'StatusNotification', connectorId: 1 }, { status: 'Accepted' }],
    ['GetDiagnostics', { location: 'ftp://diagnostics.example.com/upload', retries: 2, startTime: now() }, { fileName: 'diagnostics.zip' }],
    ['UpdateFirmware', { location: 'https://firmware.example.com/cp-1.2.bin', retrieveDate: later(60) }, {}],
    ['GetLocalListVersion', {}, { listVersion: 3 }],
    ['SendLocalList', { listVersion: 4, updateType: 'Full', localAuthorizationList: [{ idTag: 'TAG1', idTagInfo: { status: 'Accepted', expiryDate: later(86400) } }, { idTag: 'TAG2', idTagInfo: { status: 'Blocked' } }] }, { status: 'Accepted' }],
    ['ReserveNow', { connectorId: 1, expiryDate: later(3600), idTag: 'TAG1', reservationId: 7 }, { status: 'Accepted' }],
    ['CancelReservation', { reservationId: 7 }, { status: 'Accepted' }],
    ['SetChargingProfile', {
        connectorId: 1, csChargingProfiles: {
            chargingProfileId: 1, stackLevel: 0, chargingProfilePurpose: 'TxDefaultProfile', chargingProfileKind: 'Absolute',
            chargingSchedule: { chargingRateUnit: 'A', startSchedule: now(), chargingSchedulePeriod: [{ startPeriod: 0, limit: 16 }, { startPeriod: 3600, limit: 10.5, numberPhases: 3 }] },
        },
    }, { status: 'Accepted' }],
    ['GetCompositeSchedule', { connectorId: 1, duration: 3600, chargingRateUnit: 'A' }, {
        status: 'Accepted', connectorId: 1, scheduleStart: now(),
        chargingSchedule: { duration: 3600, chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 16 }] },
    }],
    ['ClearChargingProfile', { id: 1 }, { status: 'Accepted' }],
];

async function main() {
    console.log(`interop: ocpp-rpc ${version} (strict mode) against ${url}, operator API ${api}${opts.key ? ', Basic auth' : ''}`);
    const id = `${opts.prefix}-CP`;
    const cp = chargePoint(id);
    const seen = new Map(); // action -> params the charge point was called with
    for (const [action, , answer] of operatorCalls) {
        cp.handle(action, ({ params }) => {
            seen.set(action, params);
            return answer;
        });
    }

    await check('connect with the ocpp1.6 subprotocol', async () => {
        await cp.connect();
        must(cp.protocol === 'ocpp1.6', `agreed subprotocol ${show(cp.protocol)}, want "ocpp1.6"`);
    });
    if (cp.state !== RPCClient.OPEN) {
        return;
    }

    // What a charge point sends, Core and Firmware Management.
    let txId;
    const sends = [
        ['BootNotification', { chargePointVendor: 'Interop', chargePointModel: 'ocpp-rpc', chargePointSerialNumber: 'IO-1', firmwareVersion: '1.0' },
            r => must(r.status === 'Accepted' && r.interval > 0, `answered ${show(r)}, want Accepted with an interval`)],
        ['Heartbeat', {}, r => must(!Number.isNaN(Date.parse(r.currentTime)), `currentTime ${show(r.currentTime)}`)],
        ['StatusNotification', { connectorId: 0, errorCode: 'NoError', status: 'Available', timestamp: now() }],
        ['StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available', timestamp: now(), info: 'interop', vendorId: 'com.example' }],
        ['Authorize', { idTag: 'TAG1' }, r => must(r.idTagInfo?.status, `no idTagInfo.status in ${show(r)}`)],
        ['StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Preparing', timestamp: now() }],
        ['StartTransaction', { connectorId: 1, idTag: 'TAG1', meterStart: 1000, timestamp: now() },
            r => { txId = r.transactionId; must(Number.isInteger(txId), `transactionId ${show(txId)}`); }],
        ['StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Charging', timestamp: now() }],
        ['MeterValues', () => ({
            connectorId: 1, transactionId: txId, meterValue: [{
                timestamp: now(), sampledValue: [
                    { value: '1500', measurand: 'Energy.Active.Import.Register', unit: 'Wh', context: 'Sample.Periodic', location: 'Outlet' },
                    { value: '16.1', measurand: 'Current.Import', unit: 'A', phase: 'L1' },
                ],
            }],
        })],
        ['StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Finishing', timestamp: now() }],
        ['StopTransaction', () => ({
            transactionId: txId, meterStop: 2500, timestamp: now(), reason: 'Local', idTag: 'TAG1',
            transactionData: [{ timestamp: now(), sampledValue: [{ value: '2500', measurand: 'Energy.Active.Import.Register', unit: 'Wh' }] }],
        })],
        ['StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available', timestamp: now() }],
        ['DataTransfer', { vendorId: 'com.example', messageId: 'hello', data: 'world' }, r => must(r.status, `no status in ${show(r)}`)],
        ['DiagnosticsStatusNotification', { status: 'Uploading' }],
        ['DiagnosticsStatusNotification', { status: 'Uploaded' }],
        ['FirmwareStatusNotification', { status: 'Downloading' }],
        ['FirmwareStatusNotification', { status: 'Installed' }],
    ];
    for (const [action, params, verify] of sends) {
        const p = typeof params === 'function' ? params() : params;
        const what = action === 'StatusNotification' ? `${action} ${p.status}` : action;
        await check(`the server answers ${what}`, async () => {
            const r = await cp.call(action, p);
            clean(cp);
            verify?.(r);
        });
    }

    // What the operator asks of a charge point, through the API.
    for (const [action, request, answer] of operatorCalls) {
        await check(`the operator calls ${action}`, async () => {
            seen.delete(action);
            const res = await callAPI(id, action, request);
            clean(cp);
            must(res.status === 200, `the API answered ${res.status}: ${show(res.body)}`);
            must(seen.has(action), 'the charge point was never called');
            must(sameJSON(seen.get(action), request), `the charge point got ${show(seen.get(action))}, the operator sent ${show(request)}`);
            must(sameJSON(res.body, answer), `the operator got ${show(res.body)}, the charge point answered ${show(answer)}`);
        });
    }

    await check('a CALLERROR from the charge point reaches the operator with its code', async () => {
        cp.handle('Reset', () => { throw createRPCError('NotSupported', 'no resets today'); });
        const res = await callAPI(id, 'Reset', { type: 'Hard' });
        must(res.status === 502 && res.body?.code === 'NotSupported', `the API answered ${res.status}: ${show(res.body)}`);
    });
    await check('an answer that breaks the schema is reported, not passed on', async () => {
        cp.handle('ClearCache', ({ messageId }) => {
            cp.sendRaw(JSON.stringify([3, messageId, { status: 'Maybe' }]));
            return NOREPLY;
        });
        const res = await callAPI(id, 'ClearCache', {});
        must(res.status !== 200, `the API answered 200 with ${show(res.body)}`);
        must(/schema|PropertyConstraint|status/i.test(show(res.body)), `the API's error does not say what is wrong: ${show(res.body)}`);
    });
    await cp.close({ code: 1000 });

    if (opts.key) {
        await check('a wrong password is refused at the handshake', async () => {
            const bad = chargePoint(`${opts.prefix}-CP`, { password: `${opts.key}-wrong` });
            try {
                await bad.connect();
            } catch (err) {
                must(/401/.test(err.message) || err.response?.statusCode === 401, `refused, but not with 401: ${err.message}`);
                return;
            }
            await bad.close();
            throw new Error('connected with a wrong password');
        });
    }

    const n = Number(opts.stations);
    await check(`${n} charge points at once: boot, heartbeat, status`, async () => {
        const cps = Array.from({ length: n }, (_, i) => chargePoint(`${opts.prefix}-${String(i + 1).padStart(3, '0')}`));
        try {
            await Promise.all(cps.map(async c => {
                await c.connect();
                const boot = await c.call('BootNotification', { chargePointVendor: 'Interop', chargePointModel: 'ocpp-rpc' });
                must(boot.status === 'Accepted', `${c.identity}: boot ${show(boot)}`);
                await c.call('Heartbeat', {});
                await c.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available' });
                clean(c);
            }));
        } finally {
            await Promise.all(cps.map(c => c.close({ code: 1000 }).catch(() => { })));
        }
    });
}

try {
    await main();
} catch (err) {
    record('the check itself', err);
}
const failed = results.filter(r => r.err).length;
console.log(`interop: ${results.length - failed} of ${results.length} checks passed`);
process.exit(failed ? 1 : 0);
