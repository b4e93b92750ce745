// The vmap map page: click → the code a new address there would get; a code → its cell and
// address; address text → GET /v1/search's results, the first one pinned, and as it is typed
// GET /v1/autocomplete's completions; a dropped list → POST /v1/assign (dry run by default). Only this server's API is
// called; every text from the server is put in the page as text, never as HTML.
"use strict";

(function () {
  const TEXT = {
    vi: {
      search: "Tìm", search_placeholder: "Mã vmap hoặc địa chỉ, ví dụ 11116 2RWX P69",
      list_button: "Danh sách…", lang_other: "EN",
      hint: "Nhấn vào bản đồ để xem mã, nhập một mã hoặc một địa chỉ, hoặc thả một danh sách CSV/JSON.",
      new_code_here: "Một địa chỉ mới ở đây sẽ có mã", point: "Điểm", zone: "Vùng bưu chính",
      ward_2025: "Phường/xã 2025", legacy: "Trước 2025", nearest: "Địa chỉ đã đăng ký gần nhất",
      none_near: "Không có địa chỉ nào trong vòng 1 km.", outside: "Điểm này nằm ngoài vùng phủ.",
      code: "Mã", registered: "đã đăng ký", unregistered: "chưa đăng ký", retired: "đã ngừng",
      address: "Địa chỉ", plus_code: "Plus code", cell: "Ô", location: "Vị trí",
      successor: "Mã thay thế", list_title: "Danh sách", dry_run: "Chạy thử (không ghi gì)",
      token: "Mã truy cập API", download: "Tải kết quả", drop_here: "Thả danh sách vào đây",
      rows: "dòng", sending: "Đang gửi…", done: "Xong", dry_done: "Xong (chạy thử, không ghi gì)",
      need_token: "Máy chủ cần mã truy cập API để gán mã: nhập mã rồi chọn lại tệp.",
      confirm_write: "Bỏ chạy thử: các mã mới sẽ được ghi vào sổ đăng ký. Tiếp tục?",
      zoom_in: "Phóng to để xem các địa chỉ đã đăng ký.",
      truncated: "Chỉ hiện {n} địa chỉ đầu tiên; phóng to để xem hết.",
      no_layer: "Máy chủ này chưa có lớp địa chỉ (/v1/addresses?bbox).",
      loading: "Máy chủ đang tải dữ liệu…", network: "Không gọi được máy chủ",
      bad_file: "Không đọc được tệp", shown: "{n} dòng đầu trên bản đồ",
      search_results: "Kết quả tìm địa chỉ", province: "Tỉnh/thành phố",
      nothing_found: "Không tìm thấy gì: không có mã hay địa chỉ nào khớp với",
      ambiguous: "Nhiều kết quả khớp như nhau: hãy chọn một.",
      level_address: "địa chỉ", level_street: "phố", level_ward: "phường/xã",
      level_district: "quận/huyện", level_province: "tỉnh/thành phố",
      found_street: "Phố tìm thấy, số nhà không: ghim ở nhà đã đăng ký có số gần nhất.",
      found_ward: "Phường/xã tìm thấy, phố không.",
      found_district: "Quận/huyện tìm thấy, phường/xã không.",
      found_province: "Tỉnh/thành phố tìm thấy, quận/huyện và phường/xã không.",
    },
    en: {
      search: "Search", search_placeholder: "A vmap code or an address, e.g. 11116 2RWX P69",
      list_button: "List…", lang_other: "VI",
      hint: "Click the map for the code there, type a code or an address, or drop a CSV/JSON list.",
      new_code_here: "A new address here would get", point: "Point", zone: "Postal zone",
      ward_2025: "2025 ward", legacy: "Before 2025", nearest: "Nearest registered addresses",
      none_near: "No address within 1 km.", outside: "This point is outside coverage.",
      code: "Code", registered: "registered", unregistered: "unregistered", retired: "retired",
      address: "Address", plus_code: "Plus code", cell: "Cell", location: "Location",
      successor: "Successor", list_title: "List", dry_run: "Dry run (write nothing)",
      token: "API token", download: "Download the result", drop_here: "Drop the list here",
      rows: "rows", sending: "Sending…", done: "Done", dry_done: "Done (dry run, nothing written)",
      need_token: "The server needs an API token to assign: enter it and choose the file again.",
      confirm_write: "Without dry run the new codes are written to the registry. Go on?",
      zoom_in: "Zoom in to see registered addresses.",
      truncated: "Showing the first {n} addresses only; zoom in to see all.",
      no_layer: "This server has no address layer (/v1/addresses?bbox).",
      loading: "The server is loading its data…", network: "Could not reach the server",
      bad_file: "Could not read the file", shown: "first {n} rows on the map",
      search_results: "Address search", province: "Province",
      nothing_found: "Nothing found: no code or address matches",
      ambiguous: "Several results fit equally well: pick one.",
      level_address: "address", level_street: "street", level_ward: "ward",
      level_district: "district", level_province: "province",
      found_street: "Street found, house not: the pin is on its registered house nearest in number.",
      found_ward: "Ward found, street not.",
      found_district: "District found, ward not.",
      found_province: "Province found, district and ward not.",
    },
  };
  const stored = window.localStorage ? localStorage.getItem("vmap-lang") : null;
  let lang = stored || ((navigator.language || "vi").toLowerCase().startsWith("vi") ? "vi" : "en");
  const t = (key, n) => (TEXT[lang][key] || key).replace("{n}", n);
  const $ = (id) => document.getElementById(id);

  function applyLang() {
    document.documentElement.lang = lang;
    document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
    document.querySelectorAll("[data-i18n-placeholder]").forEach((el) => {
      el.placeholder = t(el.dataset.i18nPlaceholder);
    });
    $("lang").textContent = t("lang_other");
    if (last) last();
    if (lastList) lastList();
  }
  let last = null; // redraws the panel in the new language
  let lastList = null; // and the list's summary

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === "class") node.className = v; else if (k.startsWith("data-")) node.setAttribute(k, v); else node[k] = v;
    });
    children.flat().forEach((c) => node.append(c instanceof Node ? c : String(c ?? "")));
    return node;
  }
  const pretty = (code) => code.length >= 12
    ? `${code.slice(0, 5)} ${code.slice(5, 9)} ${code.slice(9, 12)}${code.slice(12)}` : code;

  function message(text, info) {
    const box = $("message");
    box.textContent = text || "";
    box.className = info ? "info" : "";
    box.hidden = !text;
  }

  // GET/POST this server; an error carries the problem+json detail.
  async function api(url, options) {
    let response;
    try { response = await fetch(url, options); } catch (e) { throw new Error(t("network")); }
    const type = response.headers.get("content-type") || "";
    const body = type.includes("json") ? await response.json().catch(() => null) : await response.text();
    if (!response.ok) {
      const error = new Error(response.status === 503 ? t("loading") : (body && body.detail) || `HTTP ${response.status}`);
      error.status = response.status;
      throw error;
    }
    return body;
  }

  // ---- the map -----------------------------------------------------------------------
  const map = L.map("map", { zoomControl: true, maxZoom: 21, minZoom: 4, zoomSnap: 0.5 });
  window.vmapMap = map; // for tests and the curious
  const fromHash = /^#([\d.]+)\/(-?[\d.]+)\/(-?[\d.]+)$/.exec(location.hash);
  if (fromHash) map.setView([+fromHash[2], +fromHash[3]], +fromHash[1]);
  else map.fitBounds([[8.4, 102.1], [23.4, 109.5]]); // Việt Nam
  map.attributionControl.setPrefix(false);
  map.on("moveend", () => {
    const c = map.getCenter();
    history.replaceState(null, "", `#${map.getZoom()}/${c.lat.toFixed(5)}/${c.lng.toFixed(5)}`);
  });

  const escapeHtml = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  api("/map/config.json").then((config) => {
    if (!config || !config.tile_url) { document.body.classList.add("offline"); return; }
    L.tileLayer(config.tile_url, {
      maxZoom: 21, maxNativeZoom: 19,
      attribution: config.tile_attribution ? escapeHtml(config.tile_attribution) : "",
    }).addTo(map);
    placesLayer.remove(); // the basemap names places; the reference points stay for wards
  }).catch(() => {});

  // Reference places: provinces (zoomed out) and 2025 wards (zoomed in), for an offline map.
  const placesLayer = L.layerGroup().addTo(map);
  const wardsLayer = L.layerGroup().addTo(map);
  let places = [];
  function label(text, kind) {
    return { permanent: true, direction: "right", className: `place-label ${kind}`, offset: [4, 0], content: text };
  }
  function drawPlaces() {
    placesLayer.clearLayers();
    wardsLayer.clearLayers();
    const zoom = map.getZoom();
    const bounds = map.getBounds().pad(0.2);
    const wanted = zoom >= 11 ? "ward" : "province";
    const taken = []; // label boxes already drawn, in pixels: a label that would overlap one is left out
    const fits = (point, text) => {
      const box = [point.x, point.y - 8, point.x + 8 + text.length * 7, point.y + 8];
      if (taken.some((b) => box[0] < b[2] && b[0] < box[2] && box[1] < b[3] && b[1] < box[3])) return false;
      taken.push(box);
      return true;
    };
    let n = 0;
    for (const p of places) {
      if (p.kind !== wanted || n >= 400) continue;
      const ll = L.latLng(p.lat, p.lon);
      if (!bounds.contains(ll)) continue;
      n += 1;
      const text = wanted === "ward" ? `${p.name} · ${p.postcode}` : p.name.replace(/^(Tỉnh|Thành phố) /, "");
      const marker = L.circleMarker(ll, { radius: 3, color: "#55616d", weight: 1, fillOpacity: 0.8, interactive: false });
      if ((wanted === "province" || zoom >= 12) && fits(map.latLngToContainerPoint(ll), text)) {
        const o = label(text, wanted);
        marker.bindTooltip(el("span", {}, o.content), o);
      }
      marker.addTo(wanted === "ward" ? wardsLayer : placesLayer);
    }
  }
  (async function loadPlaces(attempt) {
    try {
      const body = await api("/map/places.geojson");
      places = body.features.map((f) => ({
        kind: f.properties.kind, name: f.properties.name, postcode: f.properties.postcode,
        lon: f.geometry.coordinates[0], lat: f.geometry.coordinates[1],
      }));
      drawPlaces();
    } catch (e) {
      if (e.status === 503 && attempt < 60) setTimeout(() => loadPlaces(attempt + 1), 2000);
    }
  })(0);
  map.on("moveend", drawPlaces);

  // Registered addresses in view, from GET /v1/addresses?bbox (zoom ≥ 16).
  const ADDRESS_ZOOM = 16;
  const addressesLayer = L.layerGroup().addTo(map);
  let addressFetch = null;
  function layerNote(text) { $("layer-note").textContent = text || ""; $("layer-note").hidden = !text; }
  async function drawAddresses() {
    if (addressFetch) addressFetch.abort();
    if (map.getZoom() < ADDRESS_ZOOM) { addressesLayer.clearLayers(); layerNote(t("zoom_in")); return; }
    const b = map.getBounds();
    const bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((x) => x.toFixed(6)).join(",");
    addressFetch = new AbortController();
    let body;
    try {
      body = await api(`/v1/addresses?bbox=${bbox}&limit=1000`, { signal: addressFetch.signal });
    } catch (e) {
      if (e.status === 404 || e.status === 405) layerNote(t("no_layer"));
      return;
    }
    addressesLayer.clearLayers();
    for (const f of body.features || []) {
      const code = f.properties && f.properties.code;
      const [lon, lat] = f.geometry.coordinates;
      const dot = L.circleMarker([lat, lon], { radius: 5, color: "#17324d", weight: 1, fillColor: "#3d7ab8", fillOpacity: 0.9, className: "address-dot" });
      if (code) {
        dot.bindTooltip(el("span", {}, pretty(code)));
        dot.on("click", (event) => { L.DomEvent.stopPropagation(event); searchCode(code); });
      }
      dot.addTo(addressesLayer);
    }
    layerNote(body.truncated ? t("truncated", body.limit) : "");
    $("layer-note").dataset.count = String((body.features || []).length);
  }
  map.on("moveend", drawAddresses);

  // What the panel shows: the clicked point or the searched code, with its cell.
  const focusLayer = L.layerGroup().addTo(map);
  function drawCell(cell, pin) {
    focusLayer.clearLayers();
    if (pin) L.marker(pin).addTo(focusLayer);
    if (!cell) return null;
    const bounds = [[cell.south, cell.west], [cell.north, cell.east]];
    L.rectangle(bounds, { color: "#c0392b", weight: 2, fillOpacity: 0.15, className: "cell-rect", interactive: false }).addTo(focusLayer);
    return bounds;
  }
  function zoneRows(zone) {
    if (!zone) return [];
    const rows = [[t("zone"), `${zone.postcode} · ${[zone.ward, zone.district, zone.province].filter(Boolean).join(", ")}`]];
    const a = zone.admin_2025;
    if (a) rows.push([t("ward_2025"), `${a.ward.name}, ${a.province.name}${a.postcode ? ` (${a.postcode})` : ""}`]);
    const l = zone.legacy;
    if (l && zone.table === "2025") rows.push([t("legacy"), `${l.ward.name}, ${l.district.name}, ${l.province.name}`]);
    return rows;
  }
  const list = (rows) => el("dl", {}, rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  function showResult(...children) {
    $("hint").hidden = true;
    const box = $("result");
    box.replaceChildren(...children);
    box.hidden = false;
  }

  let pointSeq = 0;
  async function showPoint(latlng) {
    const seq = ++pointSeq;
    searchSeq++; // a search still running no longer draws
    message("");
    const lat = latlng.lat, lon = L.Util.wrapNum(latlng.lng, [-180, 180], true);
    let answer;
    try {
      answer = await api(`/v1/reverse?lat=${lat}&lon=${lon}&limit=5&radius_m=1000`);
    } catch (e) { message(e.message); return; }
    let cell = null;
    if (answer.grid_code) {
      try { cell = (await api(`/v1/codes/${encodeURIComponent(answer.grid_code)}`)).cell; } catch (e) { /* shown without */ }
    }
    if (seq !== pointSeq) return;
    last = () => renderPoint(lat, lon, answer, cell);
    last();
  }
  function renderPoint(lat, lon, answer, cell) {
    drawCell(cell, [lat, lon]);
    const nearest = answer.addresses.map((a) => el("li", {},
      el("a", { href: "#", "data-code": a.code, onclick: (e) => { e.preventDefault(); searchCode(a.code); } }, pretty(a.code)),
      ` ${Math.round(a.distance_m)} m`));
    showResult(
      el("h2", {}, t("new_code_here")),
      answer.grid_code
        ? el("div", { class: "code", id: "result-code", "data-code": answer.grid_code }, pretty(answer.grid_code))
        : el("p", { id: "result-code", "data-code": "" }, t("outside")),
      el("p", { id: "result-point", "data-lat": String(lat), "data-lon": String(lon) },
        `${t("point")}: ${lat.toFixed(6)}, ${lon.toFixed(6)}`),
      list(zoneRows(answer.zone)),
      el("h3", {}, t("nearest")),
      nearest.length ? el("ol", { id: "nearest" }, nearest) : el("p", { id: "nearest" }, t("none_near")),
    );
    $("result").dataset.kind = "point";
  }
  map.on("click", (event) => showPoint(event.latlng));

  // The box takes a code or address text. Text shaped like a code (as the API's pattern
  // reads it: 5 digits, 7 grid characters, spaces, hyphens and one '+' anywhere, an optional
  // -N) is looked up as a code; anything else, or a code-shaped text the lookup refuses
  // (404, 422), goes to GET /v1/search.
  const CODE_SHAPE = /^\s*\d(?:[\s-]*\d){4}(?:[\s+-]*[2-9cfghjmpqrvwx]){7}\s*(?:-\s*\d{1,5}\s*)?$/i;
  let searchSeq = 0;
  function search(text) {
    const query = text.trim();
    if (!query) return;
    if (CODE_SHAPE.test(query)) searchCode(query, true); else searchText(query);
  }

  async function searchCode(text, orText) {
    const query = text.trim();
    if (!query) return;
    const seq = ++searchSeq;
    pointSeq++; // nor a click's
    message("");
    let body;
    try { body = await api(`/v1/codes/${encodeURIComponent(query)}`); } catch (e) {
      if (seq !== searchSeq) return;
      if (orText && (e.status === 404 || e.status === 422)) searchText(query); else message(e.message);
      return;
    }
    if (seq !== searchSeq) return;
    last = () => { showResult(...codeParts(body)); $("result").dataset.kind = "code"; };
    last();
    const bounds = drawCell(body.cell, [body.location.lat, body.location.lon]);
    if (bounds) map.fitBounds(bounds, { maxZoom: 19 });
  }
  function codeParts(body) {
    const status = !body.registered ? "unregistered" : body.status === "retired" ? "retired" : "registered";
    const a = body.address || {};
    const line = [a.house_number, a.alley, a.street, a.unit, a.address].filter(Boolean).join(", ");
    const rows = [];
    if (line) rows.push([t("address"), line]);
    rows.push([t("location"), `${body.location.lat.toFixed(6)}, ${body.location.lon.toFixed(6)}`]);
    rows.push([t("plus_code"), body.plus_code]);
    if (body.successor) rows.push([t("successor"), pretty(body.successor)]);
    return [
      el("h2", {}, t("code")),
      el("div", { class: "code", id: "result-code", "data-code": body.code }, body.pretty),
      el("span", { class: `tag ${status}`, id: "result-status", "data-status": status }, t(status)),
      el("div", { id: "result-address", "data-address": line }, list(rows.concat(zoneRows(body.zone)))),
    ];
  }

  // Address text: GET /v1/search near the map's centre; the results as a short list, the
  // first picked at once.
  const LEVEL_ZOOM = { street: 18, ward: 14, district: 12, province: 9 };
  async function searchText(query) {
    const seq = ++searchSeq;
    pointSeq++;
    message("");
    const c = map.getCenter();
    const near = `${c.lat.toFixed(5)},${L.Util.wrapNum(c.lng, [-180, 180], true).toFixed(5)}`;
    let answer;
    try {
      answer = await api(`/v1/search?q=${encodeURIComponent(query)}&limit=5&near=${near}`);
    } catch (e) { if (seq === searchSeq) message(e.message); return; }
    if (seq !== searchSeq) return;
    const results = answer.results || [];
    const state = { query, answer, results, picked: -1, detail: null };
    if (!results.length) {
      focusLayer.clearLayers();
      last = () => renderSearch(state);
      last();
      return;
    }
    pickResult(state, 0, seq);
  }
  async function pickResult(state, index, seq) {
    const result = state.results[index];
    state.picked = index;
    state.detail = null;
    const pin = [result.location.lat, result.location.lon];
    last = () => renderSearch(state);
    last();
    if (result.level === "address" && result.code) {
      let body = null;
      try { body = await api(`/v1/codes/${encodeURIComponent(result.code)}`); } catch (e) { /* shown without */ }
      if (seq !== searchSeq || state.picked !== index) return;
      state.detail = body;
      last();
      const bounds = drawCell(body && body.cell, pin);
      map.fitBounds(bounds || [pin, pin], { maxZoom: 19 });
    } else {
      drawCell(null, pin);
      map.setView(pin, LEVEL_ZOOM[result.level] || 14);
    }
  }
  function renderSearch(state) {
    const { query, answer, results, picked } = state;
    const parts = [el("h2", {}, t("search_results"))];
    if (!results.length) {
      parts.push(el("p", { id: "search-none", class: "none" }, `${t("nothing_found")} “${query}”.`));
    } else {
      if (answer.ambiguous) parts.push(el("p", { id: "search-ambiguous", class: "note" }, t("ambiguous")));
      parts.push(el("ol", { id: "search-results" }, results.map((r, i) => el("li", {
        class: i === picked ? "picked" : "", "data-level": r.level, "data-code": r.code || "",
      }, el("a", { href: "#", onclick: (e) => { e.preventDefault(); pickResult(state, i, searchSeq); } }, r.label),
      el("span", { class: "meta" }, [t(`level_${r.level}`), `${Math.round(r.confidence * 100)} %`,
        r.code ? pretty(r.code) : ""].filter(Boolean).join(" · "))))));
      const r = results[picked];
      if (r && r.level === "address" && r.code) {
        parts.push(...(state.detail ? codeParts(state.detail) : [
          el("h2", {}, t("code")),
          el("div", { class: "code", id: "result-code", "data-code": r.code }, pretty(r.code)),
        ]));
      } else if (r) {
        const rows = [[t("location"), `${r.location.lat.toFixed(6)}, ${r.location.lon.toFixed(6)}`]];
        const a = r.admin_2025 || {};
        if (!r.zone && a.ward) rows.push([t("ward_2025"), `${a.ward.name}, ${a.province ? a.province.name : ""}`]);
        else if (!r.zone && a.province) rows.push([t("province"), a.province.name]);
        parts.push(
          el("p", { id: "result-level", class: "note", "data-level": r.level }, t(`found_${r.level}`)),
          list(rows.concat(zoneRows(r.zone))),
        );
      }
    }
    showResult(...parts);
    $("result").dataset.kind = "search";
    $("result").dataset.count = String(results.length);
  }
  $("search").addEventListener("submit", (event) => { event.preventDefault(); search($("code-input").value); });

  // Suggestions as the text is typed: GET /v1/autocomplete near the map's centre, its
  // completions offered by the box's datalist (the browser shows and picks them). Only the
  // answer to the latest text is used; code-shaped text and short text ask nothing.
  let suggestSeq = 0;
  let suggestTimer = null;
  $("code-input").addEventListener("input", () => {
    clearTimeout(suggestTimer);
    suggestTimer = setTimeout(suggest, 150);
  });
  async function suggest() {
    const query = $("code-input").value;
    const seq = ++suggestSeq;
    if (query.trim().length < 2 || CODE_SHAPE.test(query)) return;
    const c = map.getCenter();
    const near = `${c.lat.toFixed(5)},${c.lng.toFixed(5)}`;
    let answer;
    try {
      answer = await api(`/v1/autocomplete?q=${encodeURIComponent(query)}&limit=5&near=${near}`);
    } catch (e) {
      return; // a suggestion is a help; the search itself says what went wrong
    }
    if (seq !== suggestSeq) return;
    const options = (answer.results || []).map((s) => el("option", { value: s.completion }));
    $("suggestions").replaceChildren(...options);
    $("suggestions").dataset.query = query;
  }
  $("lang").addEventListener("click", () => {
    lang = lang === "vi" ? "en" : "vi";
    if (window.localStorage) localStorage.setItem("vmap-lang", lang);
    applyLang();
  });

  // ---- lists: POST /v1/assign ---------------------------------------------------------
  const listLayer = L.layerGroup().addTo(map);
  const PREVIEW_ROWS = 10, MAP_ROWS = 200;
  function kindOf(file, text) {
    const name = file.name.toLowerCase();
    if (name.endsWith(".ndjson") || name.endsWith(".jsonl")) return { type: "application/x-ndjson", ext: "ndjson" };
    if (name.endsWith(".json") || /^\s*\[/.test(text)) return { type: "application/json", ext: "json" };
    return { type: "text/csv", ext: "csv" };
  }
  function countRows(kind, text) {
    const lines = text.split("\n").filter((line) => line.trim()).length;
    if (kind.ext === "csv") return Math.max(lines - 1, 0);
    if (kind.ext === "ndjson") return lines;
    try { return JSON.parse(text).length || 0; } catch (e) { return 0; }
  }
  // RFC 4180, the separator vmap chose (`;` when the header has more of them than `,`).
  function parseCsv(text) {
    const firstLine = text.slice(0, text.indexOf("\n") + 1 || text.length);
    const sep = (firstLine.match(/;/g) || []).length > (firstLine.match(/,/g) || []).length ? ";" : ",";
    const rows = []; let row = [], cell = "", quoted = false;
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (quoted) {
        if (c === '"' && text[i + 1] === '"') { cell += '"'; i++; } else if (c === '"') quoted = false; else cell += c;
      } else if (c === '"') quoted = true;
      else if (c === sep) { row.push(cell); cell = ""; }
      else if (c === "\n" || c === "\r") {
        if (c === "\r" && text[i + 1] === "\n") i++;
        row.push(cell); cell = "";
        if (row.some((x) => x !== "")) rows.push(row);
        row = [];
      } else cell += c;
    }
    if (cell !== "" || row.length) { row.push(cell); rows.push(row); }
    const [header, ...body] = rows;
    return (body || []).map((r) => Object.fromEntries((header || []).map((h, i) => [h, r[i] ?? ""])));
  }
  function parseAnswer(kind, text) {
    if (kind.ext === "csv") return parseCsv(text);
    if (kind.ext === "ndjson") return text.split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));
    return JSON.parse(text);
  }
  const field = (row, names) => {
    const key = Object.keys(row).find((k) => names.includes(k.trim().toLowerCase()));
    return key === undefined ? undefined : row[key];
  };

  async function runList(file) {
    $("list").hidden = false;
    $("hint").hidden = true;
    $("list-name").textContent = file.name;
    $("list-download").hidden = true;
    $("list-preview").replaceChildren();
    $("list-counts").textContent = "";
    $("list").dataset.state = "running";
    lastList = null;
    listLayer.clearLayers();
    message("");
    const dryRun = $("dry-run").checked;
    if (!dryRun && !window.confirm(t("confirm_write"))) { $("list").dataset.state = "cancelled"; return; }
    let text;
    try { text = await file.text(); } catch (e) { message(`${t("bad_file")}: ${e.message}`); return; }
    const kind = kindOf(file, text);
    const total = countRows(kind, text);
    const bar = $("list-progress");
    bar.max = Math.max(total, 1); bar.value = 0;
    $("list-status").textContent = `${t("sending")} 0 / ${total} ${t("rows")}`;
    const headers = { "content-type": kind.type };
    if ($("token").value) headers.authorization = `Bearer ${$("token").value}`;
    let response;
    try {
      response = await fetch(`/v1/assign?dry_run=${dryRun}`, { method: "POST", headers, body: text });
    } catch (e) { message(t("network")); return; }
    if (!response.ok) {
      const problem = await response.json().catch(() => null);
      if (response.status === 401) $("token-row").hidden = false;
      message(response.status === 401 ? t("need_token") : (problem && problem.detail) || `HTTP ${response.status}`);
      $("list").dataset.state = "failed";
      return;
    }
    // Rows arrive as they are decided: count the lines read for the progress bar.
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let answer = "", lines = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const chunk = decoder.decode(value, { stream: true });
      answer += chunk;
      lines += (chunk.match(/\n/g) || []).length;
      const rows = Math.min(Math.max(lines - 1, 0), total);
      bar.value = rows;
      $("list-status").textContent = `${t("sending")} ${rows} / ${total} ${t("rows")}`;
    }
    answer += decoder.decode();
    let rows;
    try { rows = parseAnswer(kind, answer); } catch (e) { message(`${t("bad_file")}: ${e.message}`); return; }
    bar.value = bar.max;
    showListResult(file, kind, rows, answer, dryRun);
  }

  function showListResult(file, kind, rows, answer, dryRun) {
    const counts = {};
    rows.forEach((row) => { const s = row.status || "?"; counts[s] = (counts[s] || 0) + 1; });
    $("list").dataset.rows = String(rows.length);
    const columns = ["id", "code", "status", "postcode", "ward_2025", "error_code"]
      .filter((c) => rows.some((row) => row[c] !== undefined && row[c] !== null && row[c] !== ""));
    const table = $("list-preview");
    table.replaceChildren(
      el("thead", {}, el("tr", {}, columns.map((c) => el("th", {}, c)))),
      el("tbody", {}, rows.slice(0, PREVIEW_ROWS).map((row) => el("tr", {}, columns.map((c) => {
        const value = row[c] == null ? "" : String(row[c]);
        return el("td", {}, c === "code" && value
          ? el("a", { href: "#", "data-code": value, onclick: (e) => { e.preventDefault(); searchCode(value); } }, pretty(value))
          : value);
      })))),
    );
    const points = [];
    rows.slice(0, MAP_ROWS).forEach((row) => {
      const lat = parseFloat(field(row, ["lat", "latitude"]));
      const lon = parseFloat(field(row, ["lon", "lng", "long", "longitude"]));
      if (!(Math.abs(lat) <= 90 && Math.abs(lon) <= 180)) return; // NaN fails too
      const ok = row.status === "created" || row.status === "existing";
      const dot = L.circleMarker([lat, lon], { radius: 6, weight: 2, color: ok ? "#1e7b34" : "#c0392b", fillOpacity: 0.6, className: "list-dot" });
      if (row.code) dot.bindTooltip(el("span", {}, pretty(String(row.code))));
      dot.addTo(listLayer);
      points.push([lat, lon]);
    });
    if (points.length) map.fitBounds(points, { maxZoom: 17, padding: [20, 20] });
    lastList = () => {
      $("list-status").textContent = `${dryRun ? t("dry_done") : t("done")}: ${rows.length} ${t("rows")}`;
      $("list-counts").textContent = Object.entries(counts).map(([s, n]) => `${s}: ${n}`)
        .concat(t("shown", points.length)).join(" · ");
    };
    lastList();
    const link = $("list-download");
    if (link.href && link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(new Blob([answer], { type: kind.type }));
    link.download = `${file.name.replace(/\.[^.]*$/, "")}.codes.${kind.ext}`;
    link.hidden = false;
    $("list").dataset.state = "done";
  }

  $("list-file").addEventListener("change", (event) => {
    const file = event.target.files && event.target.files[0];
    if (file) runList(file);
    event.target.value = "";
  });
  // The whole page takes a dropped file.
  let dragDepth = 0;
  window.addEventListener("dragenter", (e) => { e.preventDefault(); dragDepth++; $("drop-overlay").hidden = false; });
  window.addEventListener("dragleave", () => { dragDepth = Math.max(dragDepth - 1, 0); if (!dragDepth) $("drop-overlay").hidden = true; });
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => {
    e.preventDefault();
    dragDepth = 0;
    $("drop-overlay").hidden = true;
    const file = e.dataTransfer && e.dataTransfer.files[0];
    if (file) runList(file);
  });

  applyLang();
  drawAddresses();
})();
