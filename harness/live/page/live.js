// The live view of the running server (issue 13): plain ES2020, no framework, no build step.
//
// It listens to /live/events (Server-Sent Events; the wire contract is the frame type in harness/live/live.go) and shows:
//   - the big numbers (calls/s, latency, in flight, queue, threads, goroutines, …), updated in place;
//   - the worker lanes as a moving timeline on ONE canvas, redrawn by requestAnimationFrame;
//   - the stations as a grid of tiles, one DOM node each, updated in place: a transaction's energy and
//     power while it runs, and for a few seconds after a station booted again, a ring and "rebooted";
//   - where the server's operator API can call stations, a panel to call the station of a picked tile.
//
// Drawing stays cheap at 1,000 stations and 100+ lanes because bars are painted once, when they
// arrive, into an offscreen "ring" canvas whose columns are time modulo the window; each animation
// frame only copies the ring onto the screen shifted by the time that passed, and draws what moves:
// the growing tail of calls still in progress and the station numbers inside wide bars. The ring is
// repainted from the stored bars only when the rows move (a lane comes or goes, the page resizes).
//
// window.liveView is kept current for the browser tests: {server, frames, lanes, bars, t, drawn},
// plus perf (how long handling a frame and drawing take, in ms) and calls (the operator's calls sent).
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const root = document.documentElement;
  if (new URLSearchParams(location.search).has('light')) root.classList.add('light');

  const view = {
    server: null, frames: 0, lanes: 0, bars: 0, t: 0, drawn: 0, calls: 0,
    perf: { handleLast: 0, handleMax: 0, handleAvg: 0, drawLast: 0, drawMax: 0, drawAvg: 0, repaints: 0 },
  };
  // Timings over the last 100 frames / draws (the first ones, compiling and laying out, are noise).
  const handleTimes = [];
  const drawTimes = [];
  function note(list, dt, prefix) {
    list.push(dt);
    if (list.length > 100) list.shift();
    const p = view.perf;
    p[prefix + 'Last'] = dt;
    p[prefix + 'Max'] = Math.max(...list);
    p[prefix + 'Avg'] = list.reduce((a, b) => a + b, 0) / list.length;
  }
  window.liveView = view;

  // ---------------------------------------------------------------- state

  let hello = null;
  let frameMs = 200;
  let windowMs = 20000;
  let lastT = 0; // t of the last frame
  let lastAt = 0; // performance.now() when it arrived
  let clockOff = null; // server ms − performance.now(), eased
  let shownNow = 0; // the "now" the lanes were last drawn at (never goes back)
  let state = 'connecting';
  let moreLanes = 0;
  let operatorOn = false; // hello.operator: the API on this origin can call stations
  let picked = null; // the id of the station the operator's panel calls, or null

  /** @type {Map<string, {el: HTMLElement, b: HTMLElement, i: HTMLElement, u: HTMLElement, r: HTMLElement,
   *   n: number, status: string, connected: boolean, waiting: number, queued: number,
   *   firmware: string, diagnostics: string, kWh: number|null, kW: number|null, register: boolean,
   *   booted: number}>} kWh, kW: null while no transaction runs; booted: the frame time at which the
   *   station last booted again, or 0 */
  const tiles = new Map();
  // How long a tile says its station booted again: long enough for a room to see it, after a Reset.
  const bootMarkMs = 8000;
  const bootMarked = new Set(); // the tiles that say so now, to take it off when the time is up
  let tilesMaxN = 0;

  /** @type {Map<string, {name: string, bars: number[][], head: number, open: number}>}
   * bars: [n, from, to] in time order; bars[head:] are in the window; open: the station number of
   * a call still in progress at lastT, or -1. */
  const lanes = new Map();
  let laneOrder = []; // every lane's name, natural order
  let laneSetChanged = true;
  const natural = new Intl.Collator('en', { numeric: true, sensitivity: 'base' }).compare;

  // ---------------------------------------------------------------- colours

  function cssVar(name) { return getComputedStyle(root).getPropertyValue(name).trim(); }
  let theme = {};
  function readTheme() {
    theme = { fg: cssVar('--fg'), muted: cssVar('--muted'), line: cssVar('--line'), panel: cssVar('--panel'), accent: cssVar('--accent') };
  }
  readTheme();

  function hslToRgb(h, s, l) {
    const a = s * Math.min(l, 1 - l);
    const f = (k) => {
      const x = (k + h / 30) % 12;
      return l - a * Math.max(-1, Math.min(x - 3, 9 - x, 1));
    };
    return [f(0), f(8), f(4)];
  }
  function luminance(rgb) {
    const c = rgb.map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  }
  const colours = new Map();
  /** Station n's colour: golden-angle hues, so neighbours (1, 2, 3…) never look alike; n=0 grey.
   * text is black or white, whichever contrasts more with the fill. */
  function colourOf(n) {
    let c = colours.get(n);
    if (c) return c;
    let rgb;
    if (n <= 0) {
      rgb = [0.55, 0.57, 0.6];
    } else {
      const hue = (n * 137.508) % 360;
      rgb = hslToRgb(hue, 0.8, n % 2 ? 0.58 : 0.66);
    }
    const hex = '#' + rgb.map((v) => Math.round(v * 255).toString(16).padStart(2, '0')).join('');
    c = { fill: hex, text: luminance(rgb) > 0.18 ? '#000' : '#fff' };
    colours.set(n, c);
    return c;
  }

  // ---------------------------------------------------------------- formatting

  const texts = new WeakMap(); // keyed by element: a removed tile's texts go with it
  /** setText writes an element's text only when it changed (the DOM is touched as little as possible). */
  function setText(el, s) {
    if (texts.get(el) !== s) {
      texts.set(el, s);
      el.textContent = s;
    }
  }
  function setValue(id, v, text) {
    const el = $(id);
    const key = v == null ? '' : String(v);
    if (el.dataset.value !== key) el.dataset.value = key;
    setText(el, text);
  }
  function fmtCount(v) {
    if (v == null || !isFinite(v)) return '—';
    if (Math.abs(v) >= 100000) return (v / 1000).toFixed(0) + 'k';
    if (Math.abs(v) >= 10000) return (v / 1000).toFixed(1) + 'k';
    return String(Math.round(v));
  }
  function fmtRate(v) {
    if (v == null || !isFinite(v)) return '—';
    if (v < 10) return v.toFixed(1);
    return fmtCount(v);
  }
  /** Milliseconds in the unit a person reads at a glance: 0.4 ms, 3.1 ms, 184 ms, 1.84 s, 12.3 s. */
  function fmtMs(ms) {
    if (ms == null || !isFinite(ms)) return ['—', ''];
    if (ms < 0.1) return ['< 0.1', 'ms']; // the server's finest bucket: it says no more
    if (ms < 10) return [ms.toFixed(1), 'ms'];
    if (ms < 1000) return [String(Math.round(ms)), 'ms'];
    if (ms < 10000) return [(ms / 1000).toFixed(1), 's']; // the server's buckets are a tenth wide
    if (ms < 100000) return [(ms / 1000).toFixed(1), 's'];
    return [String(Math.round(ms / 1000)), 's'];
  }
  function setMs(id, ms) {
    const el = $(id);
    const [num, unit] = fmtMs(ms);
    const key = ms == null ? '' : String(ms);
    if (el.dataset.ms !== key) el.dataset.ms = key;
    const text = unit ? num + ' ' + unit : num;
    if (texts.get(el) === text) return;
    texts.set(el, text);
    el.textContent = num;
    if (unit) {
      const small = document.createElement('small');
      small.textContent = ' ' + unit;
      el.appendChild(small);
    }
  }
  function statusWords(s) {
    if (!s) return 'no status';
    return s.replace(/([a-z])([A-Z])/g, '$1 $2'); // SuspendedEVSE → Suspended EVSE
  }
  function shortId(id) { return id.length > 4 ? id.slice(-4) : id; }
  /** meterWords says a transaction's energy and power: "1.25 kWh · 7.4 kW", [] while none runs. */
  function meterWords(tile) {
    if (tile.kWh === null) return [];
    const e = tile.kWh;
    const words = [e.toFixed(e < 10 ? 3 : e < 100 ? 2 : 1) + ' kWh' + (tile.register ? ' (meter)' : '')];
    if (tile.kW !== null) words.push(tile.kW.toFixed(1) + ' kW');
    return words;
  }
  /** bootedWords says when a station booted again, by the page's clock: "booted again at 12:03:07". */
  function bootedWords(tile) {
    const serverNow = clockOff === null ? lastT : performance.now() + clockOff;
    return 'booted again at ' + new Date(Date.now() - (serverNow - tile.booted)).toLocaleTimeString('en-GB', { hour12: false });
  }
  const shortStatus = {
    Available: 'Available', Preparing: 'Preparing', Charging: 'Charging', SuspendedEV: 'Susp. EV',
    SuspendedEVSE: 'Susp. EVSE', Finishing: 'Finishing', Reserved: 'Reserved', Unavailable: 'Unavail.', Faulted: 'Faulted',
  };

  // ---------------------------------------------------------------- connection

  let es = null;
  let retryTimer = 0;

  function setConn(s, text) {
    state = s;
    const el = $('conn');
    el.dataset.state = s;
    setText(el, text);
    document.body.classList.toggle('down', s === 'down');
  }

  function connect() {
    clearTimeout(retryTimer);
    if (es) es.close();
    es = new EventSource('/live/events');
    es.addEventListener('open', () => {
      if (state === 'down') setConn('connecting', 'reconnecting…');
    });
    es.addEventListener('hello', (e) => onHello(JSON.parse(e.data)));
    es.addEventListener('frame', onFrame);
    es.addEventListener('error', () => {
      setConn('down', 'server gone — reconnecting…');
      // The browser retries by itself, unless the answer was not an event stream at all (a proxy's
      // error page, a server half-started): then it gives up, and we start again ourselves.
      if (es.readyState === EventSource.CLOSED) retryTimer = setTimeout(connect, 1500);
    });
  }

  // A server that stops sending without closing (stopped in a debugger, a laptop asleep) looks
  // like a live stream that says nothing; after ten missed frames, say so and reconnect.
  setInterval(() => {
    if (state === 'live' && performance.now() - lastAt > Math.max(5000, 10 * frameMs)) {
      setConn('down', 'server gone — reconnecting…');
      connect();
    }
  }, 1000);

  function onHello(h) {
    if (view.server !== null && h.server !== view.server) resetAll();
    view.server = h.server;
    hello = h;
    frameMs = h.frameMs > 0 ? h.frameMs : 200;
    const w = h.windowMs > 0 ? h.windowMs : 20000;
    if (w !== windowMs) { windowMs = w; layoutDirty = true; }

    const step = h.step ? 'step ' + h.step : 'step —';
    setText($('step'), step);
    $('step').dataset.step = h.step || '';
    $('step').dataset.variant = h.variant || '';
    setText($('steptitle'), h.title || '');
    const variant = $('variant');
    setText(variant, h.variant === 'solution' ? 'reference solution' : h.variant === 'starter' ? 'your code' : (h.variant || ''));
    variant.className = h.variant || '';
    // One page per node of a cluster, side by side: each says which.
    $('node-of').hidden = !h.node;
    setText($('node'), h.node || '');
    document.title = (h.node ? h.node + ' · ' : '') + step + ' · live';
    $('box-processors').hidden = !h.processors;
    $('box-pending').hidden = !h.pending;
    $('box-queued').hidden = !h.queues;
    setText($('lanes-caption'), 'one bar per call, coloured by station');
    for (const tile of tiles.values()) paintTile(tile); // queued counts show or hide with hello.queues
    setOperator(!!h.operator);
  }

  /** resetAll forgets everything from a previous server: a new server id means a new run. */
  function resetAll() {
    unpick(false);
    for (const t of tiles.values()) t.el.remove();
    tiles.clear();
    bootMarked.clear();
    summaryDirty = true;
    tilesMaxN = 0;
    lanes.clear();
    laneOrder = [];
    laneSetChanged = true;
    layoutDirty = true;
    lastT = 0;
    clockOff = null;
    shownNow = 0;
    moreLanes = 0;
    rate = [];
    view.t = 0;
    view.lanes = 0;
    view.bars = 0;
    fitTiles();
  }

  // ---------------------------------------------------------------- frames

  function onFrame(e) {
    const t0 = performance.now();
    const f = JSON.parse(e.data);
    view.frames++;
    const prevT = lastT;
    if (f.t < lastT - 1000) { // the server's clock went back: the same id, but start the lanes again
      lanes.clear();
      laneSetChanged = true;
    }
    lastT = f.t;
    lastAt = t0;
    view.t = f.t;
    const target = f.t - t0;
    if (clockOff === null || Math.abs(target - clockOff) > 1000) clockOff = target;
    else clockOff += (target - clockOff) * 0.2; // ease out the jitter of arrival times

    updateStations(f.stations || [], !!f.full);
    for (const tile of bootMarked) if (lastT - tile.booted >= bootMarkMs) paintTile(tile); // time is up
    updateStats(f.stats || {});
    ingestLanes(f.lanes || [], prevT, f.t);
    moreLanes = f.moreLanes || 0;

    if (state !== 'live') setConn('live', 'live');
    note(handleTimes, performance.now() - t0, 'handle');
    wake();
  }

  // ---------------------------------------------------------------- tiles

  function makeTile(s) {
    const el = document.createElement('div');
    el.className = 'tile';
    el.dataset.id = s.id;
    const b = document.createElement('b');
    const i = document.createElement('i');
    const u = document.createElement('u');
    const r = document.createElement('small'); // firmware and diagnostics, on large tiles
    el.append(b, i, u, r);
    if (operatorOn) makePickable(el);
    return { el, b, i, u, r, n: -1, status: null, connected: null, waiting: -1, queued: -1, size: '', firmware: '', diagnostics: '', title: '',
      kWh: null, kW: null, register: false, booted: 0 };
  }

  function paintTile(tile) {
    const { el } = tile;
    if (el.dataset.status !== tile.status) el.dataset.status = tile.status;
    const conn = tile.connected ? 'true' : 'false';
    if (el.dataset.connected !== conn) {
      el.dataset.connected = conn;
      el.classList.toggle('offline', !tile.connected);
    }
    const big = tilesSize === 'l';
    setText(tile.b, big ? el.dataset.id : shortId(el.dataset.id));
    setText(tile.i, !tile.connected ? 'gone' : big ? statusWords(tile.status) : shortStatus[tile.status] || (tile.status ? tile.status : '—'));
    const parts = [];
    if (tile.connected && tile.waiting > 0) parts.push(tile.waiting + ' waiting');
    if (hello && hello.queues && tile.queued > 0) parts.push(tile.queued + ' queued'); // a station gone leaves its backlog
    const busy = parts.length > 0;
    // A firmware update or a diagnostics upload: rare, and worth a line while it lasts, and after.
    if (el.dataset.firmware !== tile.firmware) el.dataset.firmware = tile.firmware;
    if (el.dataset.diagnostics !== tile.diagnostics) el.dataset.diagnostics = tile.diagnostics;
    // A transaction's energy and power, as its meter values arrive: what "watch it charge" shows.
    const kWh = tile.kWh === null ? undefined : String(tile.kWh);
    if (el.dataset.kwh !== kWh) { if (kWh === undefined) delete el.dataset.kwh; else el.dataset.kwh = kWh; }
    // A station that just booted again (after a Reset, say) wears a ring for a few seconds.
    const booted = tile.booted > 0 && tile.connected && lastT - tile.booted < bootMarkMs;
    if ((el.dataset.booted === 'true') !== booted) {
      if (booted) { el.dataset.booted = 'true'; bootMarked.add(tile); } else { delete el.dataset.booted; bootMarked.delete(tile); }
    }
    const reports = meterWords(tile);
    if (booted) reports.unshift('rebooted');
    if (tile.firmware) reports.push('firmware ' + statusWords(tile.firmware));
    if (tile.diagnostics) reports.push('diagnostics ' + statusWords(tile.diagnostics));
    setText(tile.u, parts.join(' · '));
    setText(tile.r, reports.join(' · '));
    if (booted) reports[0] = bootedWords(tile);
    const title = [el.dataset.id, ...reports].join(' · '); // what small tiles cannot say, on hover
    if (tile.title !== title) { tile.title = title; el.title = title; }
    if (tile.busy !== busy) { tile.busy = busy; el.classList.toggle('busy', busy); }
    if (el.dataset.id === picked) paintPicked(tile);
  }

  function placeTile(tile) {
    const box = $('tiles');
    if (tile.n >= tilesMaxN) {
      box.appendChild(tile.el);
      tilesMaxN = tile.n;
      return;
    }
    for (const other of box.children) {
      const o = tiles.get(other.dataset.id);
      if (o && o.n > tile.n) { box.insertBefore(tile.el, other); return; }
    }
    box.appendChild(tile.el);
  }

  function updateStation(s, full) {
    let tile = tiles.get(s.id);
    const isNew = !tile;
    if (isNew) {
      tile = makeTile(s);
      tiles.set(s.id, tile);
    }
    const n = s.n | 0;
    if (n > 0) idOf.set(n, s.id);
    if (tile.n !== n) {
      tile.n = n;
      tile.el.style.setProperty('--hue', n > 0 ? colourOf(n).fill : 'transparent');
    }
    tile.status = s.status || '';
    tile.connected = s.connected !== false;
    tile.waiting = s.waiting | 0;
    tile.queued = s.queued | 0;
    tile.firmware = s.firmware || '';
    tile.diagnostics = s.diagnostics || '';
    tile.kWh = typeof s.kWh === 'number' ? s.kWh : null;
    tile.kW = tile.kWh !== null && typeof s.kW === 'number' ? s.kW : null;
    tile.register = !!s.register;
    tile.booted = s.booted | 0;
    paintTile(tile);
    if (isNew && !full) placeTile(tile); // a whole frame puts every tile in order at its end
    return isNew;
  }

  // A station's number is the one its id ends with (CS0007: 7), unless another station had it
  // first or its id has none: then the server gives it one above ownNumbers, and its bars are
  // labelled with the end of its id instead.
  const ownNumbers = 1 << 20;
  const idOf = new Map(); // station number → id
  function barLabel(n) {
    if (n <= ownNumbers) return String(n);
    const id = idOf.get(n) || '?';
    return id.length > 4 ? id.slice(-4) : id;
  }

  function updateStations(list, full) {
    const before = tiles.size;
    if (full) {
      idOf.clear(); // the whole frame names every station there is
      const seen = new Set();
      for (const s of list) seen.add(s.id);
      for (const [id, t] of tiles) {
        if (seen.has(id)) continue;
        if (id === picked) unpick(false);
        bootMarked.delete(t);
        t.el.remove();
        tiles.delete(id);
      }
      tilesMaxN = 0;
      for (const t of tiles.values()) tilesMaxN = Math.max(tilesMaxN, t.n);
    }
    for (const s of list) updateStation(s, full);
    if (full) {
      // Put the grid in station order, moving only the tiles that are out of place.
      const sorted = [...tiles.values()].sort((a, b) => a.n - b.n);
      const box = $('tiles');
      let node = box.firstChild;
      for (const t of sorted) {
        if (node === t.el) node = node.nextSibling;
        else box.insertBefore(t.el, node);
      }
    }
    if (tiles.size !== before) fitTiles();
    if (operatorOn) keepTabStop();
    summaryDirty = true;
  }

  // The status summary: one chip per status present, in the tiles' own colours, with its count.
  const summaryOrder = ['Charging', 'Preparing', 'Finishing', 'SuspendedEV', 'SuspendedEVSE', 'Available', 'Reserved', 'Unavailable', 'Faulted', '', 'gone'];
  const chips = new Map();
  let summaryDirty = false;
  function updateSummary() {
    summaryDirty = false;
    const box = $('summary');
    const show = tiles.size > 24; // by count, not tile size: showing it shrinks the tiles
    box.hidden = !show;
    if (!show) return;
    const counts = new Map();
    for (const t of tiles.values()) {
      const k = t.connected ? t.status : 'gone';
      counts.set(k, (counts.get(k) || 0) + 1);
    }
    for (const k of summaryOrder) {
      let chip = chips.get(k);
      if (!chip) {
        chip = document.createElement('span');
        chip.className = 'chip' + (k === 'gone' ? ' gone' : '');
        if (k !== 'gone') chip.dataset.status = k;
        box.appendChild(chip);
        chips.set(k, chip);
      }
      const c = counts.get(k) || 0;
      chip.hidden = c === 0;
      setText(chip, c + ' ' + (k === 'gone' ? 'gone' : k ? statusWords(k) : 'no status'));
    }
  }

  let tilesSize = 'l';
  let tilesCols = 1; // the grid's columns, for the arrow keys
  /** fitTiles picks the largest tile that lets every station fit the box, and how much it says. */
  function fitTiles() {
    const box = $('tiles-box');
    const grid = $('tiles');
    const N = tiles.size;
    $('tiles-empty').hidden = N > 0;
    if (!N) return;
    const W = box.clientWidth;
    const H = box.clientHeight;
    const gap = N > 400 ? 2 : N > 100 ? 3 : N > 30 ? 5 : 8;
    const aspect = 1.7;
    let best = { cols: 1, tw: 0 };
    for (let c = 1; c <= N; c++) {
      const rows = Math.ceil(N / c);
      const w = (W - (c - 1) * gap) / c;
      const h = (H - (rows - 1) * gap) / rows;
      const tw = Math.min(w, h * aspect);
      if (tw > best.tw) best = { cols: c, tw };
      if (w < 8) break;
    }
    // Fill the columns' width (no dead strip at the right), and let tiles grow taller, up to a
    // squarer shape, when the rows leave room.
    let cols = best.cols;
    if ((W - (cols - 1) * gap) / cols < 12) cols = Math.max(1, Math.floor((W + gap) / (12 + gap)));
    const rows = Math.ceil(N / cols);
    const colW = (W - (cols - 1) * gap) / cols;
    const rowH = (H - (rows - 1) * gap) / rows;
    const tw = Math.max(12, Math.floor(Math.min(colW, 360))); // below 12 px the grid scrolls
    let th = Math.floor(Math.min(rowH, tw / 1.25));
    if (th < 8) th = Math.max(8, Math.floor(tw / aspect));
    const size = th >= 84 ? 'l' : th >= 44 ? 'm' : th >= 20 ? 's' : 'xs';
    let font;
    // Fonts fit the longest text each size shows: "Suspended EVSE" (l), "Susp. EVSE" (m), "0001" (s).
    if (size === 'l') font = Math.min(th * 0.2, tw / 10.8, 40);
    else if (size === 'm') font = Math.min(th * 0.36, tw / 6.6);
    else font = Math.min(th * 0.6, tw / 3.4);
    const st = grid.style;
    st.setProperty('--cols', cols);
    tilesCols = cols;
    st.setProperty('--tw', tw + 'px');
    st.setProperty('--th', th + 'px');
    st.setProperty('--tgap', gap + 'px');
    st.setProperty('--tf', font.toFixed(1) + 'px');
    st.setProperty('--ta', Math.max(3, Math.round(tw / 30)) + 'px');
    st.setProperty('--tr', Math.max(2, Math.round(th / 12)) + 'px');
    if (size !== tilesSize) {
      grid.className = 'size-' + size;
      tilesSize = size;
      for (const t of tiles.values()) paintTile(t);
      summaryDirty = true;
    }
  }

  // ---------------------------------------------------------------- numbers

  let rate = [];
  let sparkDirty = false;
  const sparkSize = { w: 0, h: 0 };
  function updateStats(s) {
    setValue('calls', s.callsPerSec, fmtRate(s.callsPerSec));
    setMs('p50', s.p50);
    setMs('p99', s.p99);
    setValue('inflight', s.inFlight, fmtCount(s.inFlight));
    setValue('peak', s.peak, fmtCount(s.peak));
    setValue('queue', s.queue, fmtCount(s.queue));
    if (s.queued != null) setValue('queued', s.queued, fmtCount(s.queued));
    setValue('threads', s.threads, fmtCount(s.threads));
    setValue('goroutines', s.goroutines, fmtCount(s.goroutines));
    setValue('processors', s.processors, fmtCount(s.processors));
    setValue('pending', s.pending, fmtCount(s.pending));
    if (s.known != null) {
      setText($('stations-count'), s.connected + ' connected' + (s.known !== s.connected ? ' of ' + s.known : ''));
    }
    if (Array.isArray(s.rate)) { rate = s.rate; sparkDirty = true; }
  }

  function drawSpark() {
    sparkDirty = false;
    const c = $('spark');
    const dpr = window.devicePixelRatio || 1;
    const w = Math.round(sparkSize.w * dpr); // from the ResizeObserver: reading the layout here would force one
    const h = Math.round(sparkSize.h * dpr);
    if (!w || !h) return;
    if (c.width !== w || c.height !== h) { c.width = w; c.height = h; }
    const g = c.getContext('2d');
    g.clearRect(0, 0, w, h);
    const n = 60; // the last minute, one point a second, newest at the right
    const data = rate.slice(-n);
    if (data.length < 2) return;
    const max = Math.max(1, ...data);
    const x = (i) => w - (data.length - 1 - i) * (w / (n - 1));
    const y = (v) => h - 2 * dpr - (v / max) * (h - 4 * dpr);
    g.beginPath();
    g.moveTo(x(0), h);
    for (let i = 0; i < data.length; i++) g.lineTo(x(i), y(data[i]));
    g.lineTo(x(data.length - 1), h);
    g.closePath();
    g.fillStyle = theme.accent;
    g.globalAlpha = 0.25;
    g.fill();
    g.globalAlpha = 1;
    g.beginPath();
    for (let i = 0; i < data.length; i++) (i ? g.lineTo : g.moveTo).call(g, x(i), y(data[i]));
    g.strokeStyle = theme.accent;
    g.lineWidth = 2 * dpr;
    g.stroke();
  }

  // ---------------------------------------------------------------- lanes: data

  /** Pieces of bars that arrived in the last frame, to paint into the ring: [lane, n, from, to, closed]. */
  let pieces = [];

  function ingestLanes(list, prevT, t) {
    for (const L of list) {
      let lane = lanes.get(L.name);
      if (!lane) {
        lane = { name: L.name, bars: [], head: 0, open: -1 };
        lanes.set(L.name, lane);
        laneSetChanged = true;
      }
      const bars = L.bars || [];
      for (let k = 0; k < bars.length; k++) {
        const [n, from, to] = bars[k];
        const last = lane.bars.length > lane.head ? lane.bars[lane.bars.length - 1] : null;
        // A call still going at the end of the last frame continues here: one bar, not two.
        if (last && last[0] === n && last[2] === prevT && Math.abs(from - prevT) <= 1) last[2] = Math.max(last[2], to);
        else lane.bars.push([n, from, to]);
        pieces.push([lane, n, from, to, !(to >= t && k === bars.length - 1)]);
      }
    }
    // In a hidden tab animation frames stop while events keep coming: rather than queue pieces
    // without end, drop them and repaint from the stored bars when the tab is seen again.
    if (pieces.length > 20000) { pieces = []; rowsDirty = true; }
    const cutoff = t - windowMs - frameMs;
    let count = 0;
    for (const [name, lane] of lanes) {
      const bars = lane.bars;
      while (lane.head < bars.length && bars[lane.head][2] <= cutoff) lane.head++;
      if (lane.head > 64 && lane.head * 2 > bars.length) { lane.bars = bars.slice(lane.head); lane.head = 0; }
      const len = lane.bars.length - lane.head;
      const last = len ? lane.bars[lane.bars.length - 1] : null;
      lane.open = last && last[2] >= t ? last[0] : -1;
      if (!len) { lanes.delete(name); laneSetChanged = true; continue; } // idle for the whole window
      count += len;
    }
    view.bars = count;
    if (laneSetChanged) {
      laneOrder = [...lanes.keys()].sort(natural);
      laneSetChanged = false;
      rowsDirty = true;
    }
  }

  // ---------------------------------------------------------------- lanes: drawing

  const canvas = $('lanes');
  const ctx = canvas.getContext('2d', { alpha: true });
  const ring = document.createElement('canvas');
  const rctx = ring.getContext('2d');

  let layoutDirty = true; // the canvas size or the window changed: measure again
  let rowsDirty = true; // the rows moved: repaint the ring from the stored bars
  let L = null; // the layout, in device pixels
  let ringT = 0; // the time up to which the ring is painted
  let shown = []; // the lanes drawn, in order

  /**
   * fairShare returns at most n of the sorted lane names, in their order, shared fairly among
   * their kinds (a name up to its last '-': worker, processor), so that a hundred workers beside
   * a thousand processors still show.
   */
  function fairShare(names, n) {
    const kindOf = (name) => { const i = name.lastIndexOf('-'); return i > 0 ? name.slice(0, i) : name; };
    const count = new Map();
    for (const name of names) count.set(kindOf(name), (count.get(kindOf(name)) || 0) + 1);
    const take = new Map();
    for (let left = n, progress = true; left > 0 && progress;) {
      progress = false;
      for (const [kind, total] of count) {
        const t = take.get(kind) || 0;
        if (left > 0 && t < total) { take.set(kind, t + 1); left--; progress = true; }
      }
    }
    return names.filter((name) => {
      const kind = kindOf(name);
      const t = take.get(kind) || 0;
      if (t <= 0) return false;
      take.set(kind, t - 1);
      return true;
    });
  }

  function layout() {
    const dpr = window.devicePixelRatio || 1;
    const W = Math.max(1, Math.round(canvas.clientWidth * dpr));
    const H = Math.max(1, Math.round(canvas.clientHeight * dpr));
    if (canvas.width !== W || canvas.height !== H) { canvas.width = W; canvas.height = H; }
    const S = dpr;
    const axisFont = Math.round(Math.min(22, Math.max(13, H / S / 30)) * S);
    const axisH = Math.round(axisFont * 1.7);
    const top = Math.round(6 * S);
    const plotH = Math.max(1, H - axisH - top);
    const minRow = 6 * S; // thinner rows are a smear from the back of a room: fewer lanes, said in words
    const capacity = Math.max(1, Math.floor(plotH / minRow));
    shown = laneOrder.length > capacity ? fairShare(laneOrder, capacity) : laneOrder.slice();
    const count = Math.max(1, shown.length);
    const pitch = Math.min(plotH / count, 160 * S); // one lane: a thick bar, not a wall
    const gap = pitch >= 10 * S ? Math.max(S, Math.round(pitch * 0.14)) : pitch >= 5 * S ? S : 0;
    const labelFont = Math.round(Math.min(30 * S, Math.max(13 * S, pitch * 0.5)));
    const labelEvery = Math.max(1, Math.ceil((labelFont * 1.15) / pitch));
    ctx.font = `600 ${labelFont}px system-ui, sans-serif`;
    let gutter = 0;
    for (let i = 0; i < shown.length; i += labelEvery) gutter = Math.max(gutter, ctx.measureText(shown[i]).width);
    gutter = Math.round(Math.min(gutter + 16 * S, W * 0.3));
    if (!shown.length) gutter = Math.round(16 * S);
    const right = Math.round(10 * S);
    const plotX = gutter;
    const plotW = Math.max(1, W - gutter - right);
    const next = { W, H, S, top, plotX, plotW, plotH, pitch, gap, labelFont, labelEvery, axisFont, axisH, msPerPx: windowMs / plotW };
    const ringChanged = !L || L.plotW !== next.plotW || L.plotH !== next.plotH || L.pitch !== next.pitch || L.msPerPx !== next.msPerPx;
    L = next;
    if (ringChanged || ring.width !== plotW || ring.height !== plotH) {
      ring.width = plotW;
      ring.height = plotH;
    }
    layoutDirty = false;
    return ringChanged;
  }

  const mod = (a, m) => ((a % m) + m) % m;

  /** paintPiece paints the part [from, to) of a bar into row `row` of the ring. Columns are
   * absolute time / msPerPx, wrapped around the ring's width. */
  function paintPiece(row, n, from, to, closed) {
    const c0 = Math.round(from / L.msPerPx);
    let c1 = Math.round(to / L.msPerPx);
    if (closed && c1 - c0 >= 4 * L.S) c1 -= Math.round(L.S); // a hair of gap between calls
    if (c1 <= c0) c1 = c0 + 1;
    const y = Math.round(row * L.pitch);
    const h = Math.max(1, Math.round((row + 1) * L.pitch) - y - L.gap);
    rctx.fillStyle = colourOf(n).fill;
    const RW = ring.width;
    let x = mod(c0, RW);
    let w = Math.min(c1 - c0, RW);
    if (x + w <= RW) rctx.fillRect(x, y, w, h);
    else { rctx.fillRect(x, y, RW - x, h); rctx.fillRect(0, y, w - (RW - x), h); }
  }

  /** clearSpan clears the ring's columns for times [from, to): they held the time one window ago. */
  function clearSpan(from, to) {
    const RW = ring.width;
    const c0 = Math.round(from / L.msPerPx);
    const c1 = Math.round(to / L.msPerPx);
    if (c1 - c0 >= RW) { rctx.clearRect(0, 0, RW, ring.height); return; }
    if (c1 <= c0) return;
    const x = mod(c0, RW);
    const w = c1 - c0;
    if (x + w <= RW) rctx.clearRect(x, 0, w, ring.height);
    else { rctx.clearRect(x, 0, RW - x, ring.height); rctx.clearRect(0, 0, w - (RW - x), ring.height); }
  }

  function repaintRing() {
    rctx.clearRect(0, 0, ring.width, ring.height);
    const from = lastT - windowMs - frameMs;
    for (let r = 0; r < shown.length; r++) {
      const lane = lanes.get(shown[r]);
      if (!lane) continue;
      const bars = lane.bars;
      for (let k = lane.head; k < bars.length; k++) {
        const b = bars[k];
        if (b[2] <= from) continue;
        const open = k === bars.length - 1 && lane.open >= 0;
        paintPiece(r, b[0], Math.max(b[1], from), b[2], !open);
      }
    }
    ringT = lastT;
    pieces = [];
    view.perf.repaints++;
  }

  function paintPieces() {
    if (lastT > ringT) clearSpan(ringT, lastT);
    if (pieces.length) {
      const rowOf = new Map();
      for (let r = 0; r < shown.length; r++) rowOf.set(shown[r], r);
      for (const [lane, n, from, to, closed] of pieces) {
        const r = rowOf.get(lane.name);
        if (r !== undefined) paintPiece(r, n, from, to, closed);
      }
      pieces = [];
    }
    ringT = lastT;
  }

  function niceTick(ms) {
    const steps = [1000, 2000, 5000, 10000, 15000, 30000, 60000, 120000, 300000];
    for (const s of steps) if (ms / s <= 5) return s;
    return 600000;
  }

  function draw() {
    const t0 = performance.now();
    if (layoutDirty || rowsDirty) {
      const before = shown.join('\n');
      const ringChanged = layout();
      if (ringChanged || rowsDirty || before !== shown.join('\n')) repaintRing();
      rowsDirty = false;
    } else {
      paintPieces();
    }
    const { W, H, S, top, plotX, plotW, plotH, pitch, gap, msPerPx } = L;

    // "now" on the server's clock: eased, never backwards, never far past the last frame.
    let now = lastT;
    if (state === 'live' && clockOff !== null) now = Math.min(performance.now() + clockOff, lastT + 2 * frameMs);
    now = Math.max(now, shownNow, ringT);
    shownNow = now;

    ctx.clearRect(0, 0, W, H);
    const xOf = (t) => plotX + plotW - (now - t) / msPerPx;

    // Row stripes, so a thin lane can be followed by eye across the screen.
    if (pitch >= 6 * S) {
      ctx.fillStyle = theme.line;
      ctx.globalAlpha = 0.35;
      for (let r = 0; r < shown.length; r += 2) {
        const y = top + Math.round(r * pitch);
        ctx.fillRect(plotX, y, plotW, Math.round((r + 1) * pitch) - Math.round(r * pitch) - gap);
      }
      ctx.globalAlpha = 1;
    }

    // The time grid: fixed relative to now, so it reads as "seconds ago" and does not crawl.
    const tick = niceTick(windowMs);
    ctx.font = `600 ${L.axisFont}px system-ui, sans-serif`;
    ctx.textBaseline = 'middle';
    const axisY = top + plotH + L.axisH / 2;
    for (let ago = 0; ago <= windowMs + 1; ago += tick) {
      const x = Math.round(plotX + plotW - ago / msPerPx);
      ctx.fillStyle = theme.line;
      ctx.fillRect(x - Math.floor(S / 2), top, Math.max(1, Math.round(S)), plotH);
      ctx.fillStyle = theme.muted;
      ctx.textAlign = ago === 0 ? 'right' : ago >= windowMs ? 'left' : 'center';
      ctx.fillText(ago === 0 ? 'now' : '−' + Math.round(ago / 1000) + ' s', ago === 0 ? x + Math.round(8 * S) : x, axisY);
    }

    // The bars, painted as they came: one copy of the ring, shifted by the time since.
    const RW = ring.width;
    const endCol = Math.round(ringT / msPerPx);
    const r = mod(endCol, RW);
    const endX = Math.round(xOf(ringT));
    ctx.save();
    ctx.beginPath();
    ctx.rect(plotX, top, plotW, plotH);
    ctx.clip();
    if (RW - r > 0) ctx.drawImage(ring, r, 0, RW - r, plotH, endX - RW, top, RW - r, plotH);
    if (r > 0) ctx.drawImage(ring, 0, 0, r, plotH, endX - r, top, r, plotH);

    // Calls still in progress grow to now.
    for (let i = 0; i < shown.length; i++) {
      const lane = lanes.get(shown[i]);
      if (!lane || lane.open < 0) continue;
      const y = top + Math.round(i * pitch);
      const h = Math.max(1, Math.round((i + 1) * pitch) - Math.round(i * pitch) - gap);
      ctx.fillStyle = colourOf(lane.open).fill;
      ctx.fillRect(endX - 1, y, Math.ceil(plotX + plotW - endX) + 1, h);
    }

    // Station numbers inside bars wide enough to hold them.
    const barH = pitch - gap;
    if (barH >= 14 * S) {
      const font = Math.round(Math.min(barH * 0.55, 30 * S));
      ctx.font = `700 ${font}px system-ui, sans-serif`;
      ctx.textAlign = 'center';
      ctx.textBaseline = 'middle';
      const digit = ctx.measureText('0').width;
      const from = now - windowMs;
      for (let i = 0; i < shown.length; i++) {
        const lane = lanes.get(shown[i]);
        if (!lane) continue;
        const yMid = top + Math.round(i * pitch) + (Math.round((i + 1) * pitch) - Math.round(i * pitch) - gap) / 2;
        const bars = lane.bars;
        for (let k = lane.head; k < bars.length; k++) {
          const b = bars[k];
          if (b[2] <= from || b[0] <= 0) continue;
          const open = k === bars.length - 1 && lane.open >= 0;
          const x0 = Math.max(xOf(b[1]), plotX);
          const x1 = open ? plotX + plotW : xOf(b[2]);
          const label = barLabel(b[0]);
          if (x1 - x0 < label.length * digit + 10 * S) continue;
          ctx.fillStyle = colourOf(b[0]).text;
          ctx.fillText(label, (x0 + x1) / 2, yMid);
        }
      }
    }
    ctx.restore();

    // Lane names at the left; with many thin lanes, every k-th one.
    ctx.font = `600 ${L.labelFont}px system-ui, sans-serif`;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    ctx.fillStyle = theme.fg;
    const labelW = plotX - 12 * S;
    for (let i = 0; i < shown.length; i += L.labelEvery) {
      let name = shown[i];
      if (ctx.measureText(name).width > labelW) name = name.replace(/^([a-z]{4})[a-z]+-/i, '$1-'); // processor-CS0001: proc-CS0001
      if (ctx.measureText(name).width > labelW) {
        while (name.length > 2 && ctx.measureText('…' + name).width > labelW) name = name.slice(1);
        name = '…' + name;
      }
      const y = top + Math.round(i * pitch) + (Math.min(pitch, Math.round((i + 1) * pitch) - Math.round(i * pitch)) - gap) / 2;
      ctx.fillText(name, plotX - 8 * S, y);
    }

    // What is not on screen, said in words (in the heading, so it never covers the time axis).
    const hidden = laneOrder.length - shown.length + moreLanes;
    setText($('lanes-more'), hidden > 0 ? '+' + hidden + ' more lanes not shown' : '');
    if (!shown.length) {
      ctx.fillStyle = theme.muted;
      ctx.font = `600 ${Math.round(22 * S)}px system-ui, sans-serif`;
      ctx.textAlign = 'center';
      ctx.fillText(view.frames ? 'no work in the last ' + Math.round(windowMs / 1000) + ' s' : 'waiting for the server…', plotX + plotW / 2, top + plotH / 2);
    }

    view.lanes = shown.length;
    view.drawn++;
    if (sparkDirty) drawSpark();
    if (summaryDirty) updateSummary();
    note(drawTimes, performance.now() - t0, 'draw');
  }

  // ---------------------------------------------------------------- the operator's calls
  //
  // Where the server's operator API can call stations (hello.operator), a tile can be picked: a
  // click, or the keyboard (Tab into the grid, the arrows, Enter; Esc leaves the panel). The panel
  // above the tiles then calls that station with POST /api/stations/{id}/{action} on this origin,
  // and says what came back: the station's status, or the API's error. What the station does next
  // shows in its tile as its messages arrive, like anything else.
  //
  // With make serve's API_TOKEN the API wants "Authorization: Bearer <token>" (the cookie that
  // opened the page is not for it). The page asks for the token at the first request turned down
  // for want of it, keeps it in sessionStorage (this tab only, never in the URL), and asks again
  // only once the server has turned it down.

  const opForm = $('operator');
  const tokenKey = 'kata.operatorToken';
  let tabStop = null; // the one tile Tab reaches in the grid: 1,000 tiles are one Tab, not 1,000
  let txTyped = false; // the operator typed a transaction id: no look-up overwrites it
  let txLookups = 0; // look-ups begun, so that only the latest one's answer is shown
  let pickedSeen = null; // the picked station's status when it was last looked at, for a stop
  let tokenAsked = null; // {promise, resolve} while the token dialog is open
  let tokenTurnedDown = false; // the last token given was refused: say so when asking again

  function setOperator(on) {
    if (on === operatorOn) return;
    operatorOn = on;
    const grid = $('tiles');
    if (on) {
      grid.setAttribute('role', 'listbox');
      grid.setAttribute('aria-label', 'stations: Enter picks one to call');
    } else {
      unpick(false);
      grid.removeAttribute('role');
      grid.removeAttribute('aria-label');
    }
    for (const t of tiles.values()) {
      if (on) makePickable(t.el);
      else for (const a of ['role', 'tabindex', 'aria-selected']) t.el.removeAttribute(a);
    }
    tabStop = null;
    if (on) keepTabStop();
  }

  function makePickable(el) {
    el.setAttribute('role', 'option');
    el.setAttribute('aria-selected', 'false');
    el.tabIndex = -1;
  }

  /** keepTabStop makes sure that one tile, still on the page, is the grid's tab stop. */
  function keepTabStop() {
    if (tabStop && tabStop.isConnected) return;
    const p = picked !== null && tiles.get(picked);
    setTabStop(p ? p.el : $('tiles').firstElementChild);
  }
  function setTabStop(el) {
    if (tabStop === el) return;
    if (tabStop) tabStop.tabIndex = -1;
    tabStop = el;
    if (el) el.tabIndex = 0;
  }

  const chosenAction = () => opForm.querySelector('input[name="action"]:checked').value;

  function pick(id) {
    const tile = tiles.get(id);
    if (!tile) return;
    if (picked !== id) {
      const old = picked !== null && tiles.get(picked);
      if (old) { old.el.classList.remove('picked'); old.el.setAttribute('aria-selected', 'false'); }
      picked = id;
      tile.el.classList.add('picked');
      tile.el.setAttribute('aria-selected', 'true');
      setText($('op-station'), id);
      showAnswer('', '');
      txTyped = false;
      pickedSeen = null; // a stop looks its transaction up at once
    }
    setTabStop(tile.el);
    opForm.hidden = false; // the tiles' box shrinks, and its ResizeObserver fits the tiles again
    paintPicked(tile);
  }

  function unpick(focusTile) {
    if (picked === null) return;
    const tile = tiles.get(picked);
    if (tile) { tile.el.classList.remove('picked'); tile.el.setAttribute('aria-selected', 'false'); }
    picked = null;
    opForm.hidden = true;
    if (focusTile && tile) tile.el.focus();
  }

  /** paintPicked says in the panel what the picked station's tile says, and more. */
  function paintPicked(tile) {
    const words = [tile.connected ? statusWords(tile.status) : 'gone'];
    if (tile.firmware) words.push('firmware ' + statusWords(tile.firmware));
    if (tile.diagnostics) words.push('diagnostics ' + statusWords(tile.diagnostics));
    setText($('op-state'), words.join(' · '));
    setText($('op-meter'), meterWords(tile).join(' · '));
    setText($('op-booted'), tile.el.dataset.booted === 'true' ? bootedWords(tile) : ''); // while the tile says so
    // A stop wants the transaction running now: look again whenever the station's status moves.
    const seen = tile.status + ' ' + tile.connected;
    if (seen !== pickedSeen) {
      pickedSeen = seen;
      if (chosenAction() === 'RemoteStopTransaction') lookUpTransaction();
    }
  }

  function showAnswer(outcome, text) {
    const el = $('op-answer');
    el.dataset.outcome = outcome;
    el.textContent = text;
  }

  /** requestOf returns the payload of the call the form describes. */
  function requestOf(action) {
    const num = (id) => Number($(id).value);
    switch (action) {
      case 'RemoteStartTransaction': {
        const req = { idTag: $('op-idtag').value.trim() };
        if ($('op-start-connector').value !== '') req.connectorId = num('op-start-connector');
        return req;
      }
      case 'RemoteStopTransaction': return { transactionId: num('op-tx') };
      case 'Reset': return { type: $('op-reset-type').value };
      case 'UnlockConnector': return { connectorId: num('op-unlock-connector') };
      case 'ChangeAvailability': return { connectorId: num('op-avail-connector'), type: $('op-avail-type').value };
    }
    return {};
  }

  // The statuses that say the station will do it (the others: Rejected, UnlockFailed, NotSupported).
  const willDo = new Set(['Accepted', 'Unlocked', 'Scheduled']);

  async function send(e) {
    e.preventDefault();
    const button = $('op-send');
    const id = picked;
    if (id === null || button.disabled) return;
    const action = chosenAction();
    const what = id + ' · ' + action;
    button.disabled = true;
    showAnswer('pending', what + ': sent, waiting for the station…');
    const r = await apiRequest('POST', '/api/stations/' + encodeURIComponent(id) + '/' + action, requestOf(action));
    button.disabled = false;
    view.calls++;
    if (r.ok) {
      const status = r.body && r.body.status;
      showAnswer(willDo.has(status) ? 'ok' : 'refused', what + ' → ' + (status || JSON.stringify(r.body)));
    } else {
      showAnswer('error', what + ' → ' + (r.status ? r.status + ': ' : '') + r.message);
    }
  }

  /** lookUpTransaction fills in the transaction a stop ends: the station's running one, from the API. */
  async function lookUpTransaction() {
    const id = picked;
    if (id === null || txTyped) return;
    const n = ++txLookups;
    const note = $('op-tx-note');
    setText(note, 'looking it up…');
    const r = await apiRequest('GET', '/api/stations/' + encodeURIComponent(id));
    if (n !== txLookups || picked !== id || txTyped) return; // a later look-up, or the operator, has it
    if (!r.ok && r.status !== 404) { setText(note, 'could not look it up: ' + r.message); return; }
    const open = (r.ok && r.body && r.body.openTransactions) || []; // 404: the store has not heard of it
    $('op-tx').value = open.length ? String(open[open.length - 1]) : '';
    setText(note, !open.length ? 'none running' : open.length === 1 ? 'running now' : 'running: ' + open.join(', '));
  }

  /**
   * apiRequest sends a request to the operator API and returns {ok, status, body} or
   * {ok: false, status, message}; status 0 if nothing came back (the server did not answer, or the
   * operator declined to give the token it wanted). A 401 asks for the
   * token, once, and sends the request again with it.
   */
  async function apiRequest(method, path, body) {
    for (let asked = false; ;) {
      const headers = { Accept: 'application/json' };
      if (body !== undefined) headers['Content-Type'] = 'application/json'; // the server refuses a body without it
      const token = sessionStorage.getItem(tokenKey);
      if (token) headers.Authorization = 'Bearer ' + token;
      let res;
      let data = null;
      try {
        res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
        data = await res.json().catch(() => null);
      } catch (err) {
        return { ok: false, status: 0, message: 'the server did not answer (' + err.message + ')' };
      }
      if (res.status === 401) {
        if (token) { sessionStorage.removeItem(tokenKey); tokenTurnedDown = true; }
        if (!asked) {
          asked = true;
          const given = await askToken();
          if (given !== null) { sessionStorage.setItem(tokenKey, given); continue; }
          return { ok: false, status: 0, message: 'not sent: this server wants the operator token' };
        }
      }
      if (!res.ok) return { ok: false, status: res.status, message: (data && data.error) || res.statusText || 'refused' };
      tokenTurnedDown = false;
      return { ok: true, status: res.status, body: data };
    }
  }

  /** askToken opens the token dialog, or joins the one open, and resolves to the token or null. */
  function askToken() {
    if (!tokenAsked) {
      let resolve;
      const promise = new Promise((r) => { resolve = r; });
      tokenAsked = { promise, resolve };
      $('token-input').value = '';
      setText($('token-why'), tokenTurnedDown ? 'The server turned that token down. ' : '');
      $('token-dialog').showModal();
      $('token-input').focus();
    }
    return tokenAsked.promise;
  }
  function tokenGiven(token) {
    const asked = tokenAsked;
    tokenAsked = null;
    if ($('token-dialog').open) $('token-dialog').close();
    if (asked) asked.resolve(token);
  }
  $('token-form').addEventListener('submit', (e) => { e.preventDefault(); tokenGiven($('token-input').value.trim() || null); });
  $('token-cancel').addEventListener('click', () => tokenGiven(null));
  $('token-dialog').addEventListener('cancel', (e) => { e.preventDefault(); tokenGiven(null); }); // Esc

  $('tiles').addEventListener('click', (e) => {
    const el = operatorOn && e.target.closest('.tile');
    if (el) pick(el.dataset.id);
  });
  // Enter or Space picks the focused tile; the panel takes the focus when the key comes up, not
  // down: the key's keypress, which follows its keydown, would otherwise land on the panel's
  // radio, where Enter sends the form.
  let pickingKey = '';
  $('tiles').addEventListener('keydown', (e) => {
    if (!operatorOn || !e.target.classList.contains('tile')) return;
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      pick(e.target.dataset.id);
      pickingKey = e.key;
      return;
    }
    const list = $('tiles').children;
    const i = Array.prototype.indexOf.call(list, e.target);
    const j = { ArrowRight: i + 1, ArrowLeft: i - 1, ArrowDown: i + tilesCols, ArrowUp: i - tilesCols, Home: 0, End: list.length - 1 }[e.key];
    if (j === undefined) return;
    e.preventDefault();
    if (j < 0 || j >= list.length) return;
    setTabStop(list[j]);
    list[j].focus();
  });
  $('tiles').addEventListener('keyup', (e) => {
    if (e.key !== pickingKey) return;
    pickingKey = '';
    if (picked !== null) opForm.querySelector('input[name="action"]:checked').focus();
  });
  opForm.addEventListener('submit', send);
  opForm.addEventListener('change', (e) => {
    if (e.target.name !== 'action') return;
    for (const fs of opForm.querySelectorAll('fieldset[data-for]')) {
      const on = fs.dataset.for === e.target.value;
      fs.hidden = !on;
      fs.disabled = !on; // a hidden field's `required` must not stop the send
    }
    if (e.target.value === 'RemoteStopTransaction') lookUpTransaction();
  });
  $('op-tx').addEventListener('input', () => { txTyped = true; });
  $('op-close').addEventListener('click', () => unpick(true));
  opForm.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') { e.preventDefault(); unpick(true); }
  });

  // ---------------------------------------------------------------- the loop

  let rafPending = false;
  function frameLoop() {
    rafPending = false;
    draw();
    // Keep animating while the stream is live (time flows); when it is down, the picture stays still.
    if (state === 'live') wake();
  }
  function wake() {
    if (!rafPending) { rafPending = true; requestAnimationFrame(frameLoop); }
  }

  const ro = new ResizeObserver((entries) => {
    for (const e of entries) {
      if (e.target.id === 'spark') {
        sparkSize.w = e.contentRect.width;
        sparkSize.h = e.contentRect.height;
        sparkDirty = true;
      }
    }
    layoutDirty = true;
    fitTiles();
    wake();
  });
  ro.observe($('spark'));
  ro.observe($('lanes-box'));
  ro.observe($('tiles-box'));
  window.addEventListener('keydown', (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || (e.target instanceof Element && e.target.closest('input, select, textarea, dialog'))) return; // typing
    if (e.key === 'l' || e.key === 'L') { // toggle the light page for a bright room
      root.classList.toggle('light');
      readTheme();
      drawSpark();
      wake();
    }
  });

  connect();
  wake();
})();
