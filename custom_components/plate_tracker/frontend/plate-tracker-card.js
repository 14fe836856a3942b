/*
 * Plate Tracker dashboard card: the latest sightings live, a search, and a vehicle's route.
 *
 *   type: custom:plate-tracker-card
 *   title: Plates          # optional
 *   limit: 20              # optional, 1-100 latest sightings in the live list
 *   page_size: 50          # optional, 1-500 search results per page ("More" shows the next)
 *
 * The integration serves this file and has the frontend load it; no resource to add by hand.
 * Live list: the websocket command plate_tracker/sightings/subscribe. Search and route: the
 * services search_sightings, get_route and where_is (with responses), which write the audit log.
 * Plain custom element, no build step: all text goes in through textContent, never as HTML.
 */

const CARD_VERSION = "2";
const DEFAULT_LIMIT = 20;
const MAX_LIMIT = 100;
const ROUTE_MAX_SIGHTINGS = 200;
const MIN_ARROW_LEG = 18; // map units (the map is 320 x 200): room for an arrow between two dots
const RESUBSCRIBE_MS = 15000;
const SEARCH_PAGE_SIZE = 50;
const MAX_SEARCH_PAGE_SIZE = 500;

const STRINGS = {
  en: {
    title: "Plate Tracker",
    recent: "Latest sightings",
    none: "No sightings yet.",
    search: "Search",
    plate: "Plate or pattern (* and ?)",
    reason: "Reason (written to the audit log)",
    no_reason: "Give a reason: every search and route lookup is written to the audit log.",
    no_results: "Nothing found.",
    more: "More",
    route: "Route of",
    close: "Close",
    status: "City status",
    no_map: "No camera of this route is on the camera map.",
    trip: "Trip",
    truncated: "The latest {shown} of {total} sightings.",
    flags: {
      impossible_travel: "impossible travel: a misread or a cloned plate?",
      joined_misread: "misread, same vehicle",
    },
    speed_from: "{speed} km/h from {camera}",
    speed_to: "{speed} km/h to {camera}",
    same_moment: "at the same moment as {camera}",
    not_loaded: "Plate Tracker is not set up or not loaded.",
    directions: {
      approaching: "approaching",
      receding: "receding",
      left: "moving left",
      right: "moving right",
      unknown: "",
    },
    states: {
      inside: "inside the city",
      left: "left the city",
      entered: "entered the city",
      unknown: "unknown",
    },
  },
  uk: {
    title: "Plate Tracker",
    recent: "Останні фіксації",
    none: "Фіксацій ще немає.",
    search: "Пошук",
    plate: "Номер або шаблон (* і ?)",
    reason: "Підстава (записується в журнал аудиту)",
    no_reason: "Вкажіть підставу: кожен пошук і перегляд маршруту записується в журнал аудиту.",
    no_results: "Нічого не знайдено.",
    more: "Ще",
    route: "Маршрут",
    close: "Закрити",
    status: "Статус у місті",
    no_map: "Жодна камера цього маршруту не позначена на карті камер.",
    trip: "Поїздка",
    truncated: "Останні {shown} з {total} фіксацій.",
    flags: {
      impossible_travel: "неможливий переїзд: помилка зчитування чи клон номера?",
      joined_misread: "помилка зчитування, той самий автомобіль",
    },
    speed_from: "{speed} км/год від {camera}",
    speed_to: "{speed} км/год до {camera}",
    same_moment: "в ту саму мить, що й {camera}",
    not_loaded: "Plate Tracker не налаштовано або не завантажено.",
    directions: {
      approaching: "наближається",
      receding: "віддаляється",
      left: "рух ліворуч",
      right: "рух праворуч",
      unknown: "",
    },
    states: {
      inside: "у місті",
      left: "виїхав з міста",
      entered: "в'їхав у місто",
      unknown: "невідомо",
    },
  },
  ru: {
    title: "Plate Tracker",
    recent: "Последние фиксации",
    none: "Фиксаций пока нет.",
    search: "Поиск",
    plate: "Номер или шаблон (* и ?)",
    reason: "Основание (пишется в журнал аудита)",
    no_reason: "Укажите основание: каждый поиск и просмотр маршрута пишется в журнал аудита.",
    no_results: "Ничего не найдено.",
    more: "Ещё",
    route: "Маршрут",
    close: "Закрыть",
    status: "Статус в городе",
    no_map: "Ни одна камера этого маршрута не отмечена на карте камер.",
    trip: "Поездка",
    truncated: "Последние {shown} из {total} фиксаций.",
    flags: {
      impossible_travel: "невозможный переезд: ошибка распознавания или двойник номера?",
      joined_misread: "ошибка распознавания, тот же автомобиль",
    },
    speed_from: "{speed} км/ч от {camera}",
    speed_to: "{speed} км/ч до {camera}",
    same_moment: "в тот же момент, что и {camera}",
    not_loaded: "Plate Tracker не настроен или не загружен.",
    directions: {
      approaching: "приближается",
      receding: "удаляется",
      left: "движение влево",
      right: "движение вправо",
      unknown: "",
    },
    states: {
      inside: "в городе",
      left: "выехал из города",
      entered: "въехал в город",
      unknown: "неизвестно",
    },
  },
};

const STYLE = `
  ha-card { padding: 12px 16px 16px; }
  h2 { margin: 0 0 8px; font-size: 1.2em; font-weight: 500; }
  h3 { margin: 12px 0 4px; font-size: 1em; font-weight: 500; color: var(--secondary-text-color); }
  ul, ol { list-style: none; margin: 0; padding: 0; }
  li.sighting { display: flex; align-items: center; gap: 10px; padding: 6px 0; cursor: pointer;
    border-bottom: 1px solid var(--divider-color, #e0e0e0); }
  li.sighting:hover { background: var(--secondary-background-color, #f5f5f5); }
  li.sighting img { width: 96px; height: 32px; object-fit: contain; background: #000; border-radius: 3px; }
  .plate { font-family: monospace; font-size: 1.15em; font-weight: 600; letter-spacing: 0.05em; }
  .meta { color: var(--secondary-text-color); font-size: 0.9em; }
  .grow { flex: 1; min-width: 0; }
  form { display: flex; flex-wrap: wrap; gap: 6px; margin: 4px 0; }
  input { flex: 1 1 140px; padding: 6px 8px; font: inherit; color: var(--primary-text-color);
    background: var(--card-background-color, #fff); border: 1px solid var(--divider-color, #ccc); border-radius: 4px; }
  button { padding: 6px 12px; font: inherit; cursor: pointer; border: none; border-radius: 4px;
    color: var(--text-primary-color, #fff); background: var(--primary-color, #03a9f4); }
  button.flat { color: var(--primary-color, #03a9f4); background: none; }
  button[disabled] { cursor: progress; opacity: 0.5; }
  #error { color: var(--error-color, #db4437); min-height: 1em; }
  #error:empty { display: none; }
  .empty { color: var(--secondary-text-color); padding: 6px 0; }
  #route[hidden], #last-seen[hidden] { display: none; }
  #last-seen { display: block; margin: 6px 0; text-decoration: none; }
  #last-seen img { width: 100%; max-height: 240px; object-fit: contain; background: #000; border-radius: 4px; }
  #route header { display: flex; align-items: center; justify-content: space-between; }
  svg { width: 100%; max-height: 240px; background: var(--secondary-background-color, #f5f5f5); border-radius: 4px; }
  svg polyline { fill: none; stroke: var(--primary-color, #03a9f4); stroke-width: 2; }
  svg polyline.earlier { stroke-width: 1.5; opacity: 0.45; }
  svg path.direction { fill: var(--primary-color, #03a9f4); }
  svg path.direction.earlier { opacity: 0.45; }
  svg circle { fill: var(--accent-color, #ff9800); stroke: var(--card-background-color, #fff); stroke-width: 1.5; }
  svg text { font-size: 9px; fill: var(--primary-text-color, #212121); }
  li.stop { padding: 3px 0 3px 12px; border-left: 2px solid var(--primary-color, #03a9f4); }
  li.stop.impossible { border-left-color: var(--error-color, #db4437); }
  li.stop .flag { color: var(--secondary-text-color); }
  li.stop .flag[data-flag="impossible_travel"] { color: var(--error-color, #db4437); }
  li.trip { margin-top: 6px; font-weight: 500; color: var(--secondary-text-color); }
`;

function element(tag, attributes = {}, text = "") {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined && value !== null) node.setAttribute(name, String(value));
  }
  if (text) node.textContent = text;
  return node;
}

// The user's language of a table of strings ("uk", "uk-UA"), else English.
function inLanguage(table, hass) {
  const language = (hass && hass.language) || "en";
  return table[language] || table[language.split("-")[0]] || table.en;
}

// Image links are signed over their path only, and come with Home Assistant's external URL (for
// notifications). This page may reach Home Assistant by another address (a local IP, a proxy),
// and an http link on an https page is blocked: the path and its signature work from any.
function sameOrigin(url) {
  try {
    const parsed = new URL(url, window.location.origin);
    return parsed.pathname + parsed.search;
  } catch (err) {
    return url;
  }
}

// The clock of Home Assistant's time_format setting: "language" (the language's own), "system"
// (the browser's), "12" or "24". Undefined: the language's.
function hourCycle(timeFormat) {
  if (timeFormat === "12") return "h12";
  if (timeFormat === "24") return "h23";
  if (timeFormat === "system") return new Intl.DateTimeFormat(undefined, { hour: "numeric" }).resolvedOptions().hourCycle;
  return undefined;
}

// Whether this browser knows a time zone name (an old one may not know a new zone).
function knownTimeZone(zone) {
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return true;
  } catch (err) {
    return false;
  }
}

function svgElement(tag, attributes = {}) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  return node;
}

class PlateTrackerCard extends HTMLElement {
  constructor() {
    super();
    this.attachShadow({ mode: "open" });
    this._config = { title: undefined, limit: DEFAULT_LIMIT, page_size: SEARCH_PAGE_SIZE };
    this._hass = undefined;
    this._recent = []; // newest first, by sighting_id without duplicates
    this._unsubscribe = undefined;
    this._subscribing = false;
    this._feedAttempt = 0; // answers and messages of an older subscribe are dropped
    this._retryTimer = undefined;
    this._listenedConnection = undefined; // the connection whose "ready" (reconnected) we hear
    this._onReconnect = () => this._resubscribeAfterReconnect();
    this._query = undefined; // the search "More" goes on with
    this._searchRequest = 0; // a new search makes the answers of the ones before it stale
    this._searching = false; // the latest search, or its "More", waits for its answer
    this._found = [];
    this._nextCursor = undefined;
    this._routeRequest = 0; // only the route opened last is shown
    this._shownRoute = undefined; // the route on show, to say again in another language
    this._language = undefined; // the language the card's texts are in
    this._built = false;
  }

  static getStubConfig() {
    return { limit: DEFAULT_LIMIT };
  }

  static getConfigElement() {
    return document.createElement("plate-tracker-card-editor");
  }

  setConfig(config) {
    if (!config || typeof config !== "object") throw new Error("Invalid configuration");
    const limit = config.limit === undefined ? DEFAULT_LIMIT : Number(config.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
      throw new Error(`limit must be a whole number from 1 to ${MAX_LIMIT}`);
    }
    const pageSize = config.page_size === undefined ? SEARCH_PAGE_SIZE : Number(config.page_size);
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_SEARCH_PAGE_SIZE) {
      throw new Error(`page_size must be a whole number from 1 to ${MAX_SEARCH_PAGE_SIZE}`);
    }
    const changed = this._config.limit !== limit;
    this._config = { title: config.title, limit, page_size: pageSize };
    if (this._built) this.shadowRoot.querySelector("h2").textContent = this._title();
    if (changed && (this._unsubscribe || this._subscribing)) {
      this._unsubscribeFeed();
      this._subscribeFeed();
    }
  }

  set hass(hass) {
    const first = this._hass === undefined;
    this._hass = hass;
    if (!this._built) this._build();
    // The user switched the profile's language: the frontend hands a new hass, no page reload.
    else if (this._languageOf(hass) !== this._language) this._applyTexts();
    if (first) this._renderRecent();
    if (!this.isConnected) return;
    this._listenForReconnects();
    // Not on every state change after a refusal: a retry is scheduled then.
    if (!this._unsubscribe && !this._retryTimer) this._subscribeFeed();
  }

  get hass() {
    return this._hass;
  }

  connectedCallback() {
    if (!this._hass) return;
    this._listenForReconnects();
    if (!this._unsubscribe && !this._retryTimer) this._subscribeFeed();
  }

  disconnectedCallback() {
    this._stopListeningForReconnects();
    clearTimeout(this._retryTimer);
    this._retryTimer = undefined;
    this._unsubscribeFeed();
  }

  getCardSize() {
    return 3 + Math.min(this._recent.length, this._config.limit);
  }

  getGridOptions() {
    return { columns: 12, min_columns: 6, rows: "auto" };
  }

  _strings() {
    return inLanguage(STRINGS, this._hass);
  }

  _languageOf(hass) {
    return (hass && hass.language) || "en";
  }

  _title() {
    return this._config.title === undefined ? this._strings().title : String(this._config.title);
  }

  _build() {
    const root = this.shadowRoot;
    root.replaceChildren();
    root.append(element("style", {}, STYLE));
    const card = element("ha-card");
    card.append(element("h2"));

    card.append(element("h3", { id: "recent-title" }));
    card.append(element("ul", { id: "recent" }));

    card.append(element("h3", { id: "search-title" }));
    const form = element("form", { id: "search-form" });
    form.append(
      element("input", { id: "plate", autocomplete: "off" }),
      element("input", { id: "reason" }),
      element("button", { id: "search", type: "submit" }),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this._search();
    });
    const more = element("button", { id: "more", class: "flat", type: "button", hidden: "" });
    more.addEventListener("click", () => this._search(true));
    card.append(form, element("div", { id: "error", role: "alert" }), element("ul", { id: "results" }), more);

    const route = element("section", { id: "route", hidden: "" });
    const header = element("header");
    header.append(element("h3", { id: "route-title" }));
    const close = element("button", { id: "route-close", class: "flat", type: "button" });
    close.addEventListener("click", () => {
      this._routeRequest += 1; // a route still loading is not wanted any more
      this._shownRoute = undefined;
      route.setAttribute("hidden", "");
    });
    header.append(close);
    route.append(header, element("div", { id: "status" }), element("a", { id: "last-seen", target: "_blank", rel: "noopener", hidden: "" }));
    route.append(svgElement("svg", { id: "route-map", viewBox: "0 0 320 200" }));
    route.append(
      element("div", { id: "route-note", class: "empty" }),
      element("ol", { id: "trips" }),
      element("div", { id: "route-truncated", class: "empty" }),
    );
    card.append(route);

    // One listener for every list: a row opens the route of its plate.
    card.addEventListener("click", (event) => {
      const row = event.composedPath().find((node) => node.classList && node.classList.contains("sighting"));
      if (row) this._showRoute(row.dataset.plate);
    });
    root.append(card);
    this._built = true;
    this._applyTexts();
  }

  // Writes every text of the card in the user's language; once built, and again when the user
  // switches languages (what is on show then, rows and route, is said again in the new one).
  _applyTexts() {
    const s = this._strings();
    const root = this.shadowRoot;
    this._language = this._languageOf(this._hass);
    root.querySelector("h2").textContent = this._title();
    root.getElementById("recent-title").textContent = s.recent;
    root.getElementById("search-title").textContent = s.search;
    for (const [id, text] of [["plate", s.plate], ["reason", s.reason]]) {
      const input = root.getElementById(id);
      input.setAttribute("placeholder", text);
      input.setAttribute("aria-label", text);
    }
    root.getElementById("search").textContent = s.search;
    root.getElementById("more").textContent = s.more;
    root.getElementById("route-close").textContent = s.close;
    this._renderRecent();
    if (this._query && !this._searching && this._found.length) {
      this._renderRows(root.getElementById("results"), this._found, s.no_results);
    }
    if (this._shownRoute) this._renderRoute(this._shownRoute);
  }

  // --- live list ---------------------------------------------------------------------------

  async _subscribeFeed() {
    if (this._subscribing || !this._hass || !this._hass.connection) return;
    this._subscribing = true;
    const attempt = ++this._feedAttempt;
    let unsubscribe;
    let refused = false;
    let refusal;
    try {
      unsubscribe = await this._hass.connection.subscribeMessage(
        // The first message can come before the answer is handled (one websocket frame).
        (message) => {
          if (attempt === this._feedAttempt) this._receive(message);
        },
        { type: "plate_tracker/sightings/subscribe", limit: this._config.limit },
        // After a reconnect the connection would send it again by itself, with no one to hear a
        // refusal (Home Assistant restarting has not loaded the integration yet) and nothing
        // live from then on. The card subscribes again itself when the connection is back.
        { resubscribe: false },
      );
    } catch (err) {
      refused = true;
      refusal = err;
    }
    if (attempt !== this._feedAttempt) {
      // Dropped while asked for (the card removed, the limit changed, the connection back).
      if (unsubscribe) unsubscribe().catch(() => {});
      return;
    }
    this._subscribing = false;
    if (refused) {
      // Refused (the hub is not loaded yet, or restarting): say so, and ask again later.
      const code = refusal && refusal.code;
      const notLoaded = code === "not_loaded" || code === "unknown_command";
      this._setError(notLoaded ? this._strings().not_loaded : this._message(refusal));
      this._retryTimer = setTimeout(() => {
        this._retryTimer = undefined;
        if (this.isConnected && !this._unsubscribe) this._subscribeFeed();
      }, RESUBSCRIBE_MS);
      return;
    }
    this._unsubscribe = unsubscribe;
    this._setError("");
  }

  _unsubscribeFeed() {
    const unsubscribe = this._forgetFeed();
    if (unsubscribe) unsubscribe().catch(() => {}); // the connection may be gone already
  }

  // Forgets the subscription, and the one being asked for (unsubscribed when its answer comes);
  // returns the function that ends the one made.
  _forgetFeed() {
    const unsubscribe = this._unsubscribe;
    this._unsubscribe = undefined;
    this._feedAttempt += 1;
    this._subscribing = false;
    return unsubscribe;
  }

  _listenForReconnects() {
    const connection = this._hass && this._hass.connection;
    if (connection === this._listenedConnection) return;
    this._stopListeningForReconnects();
    if (!connection) return;
    connection.addEventListener("ready", this._onReconnect);
    this._listenedConnection = connection;
  }

  _stopListeningForReconnects() {
    if (this._listenedConnection) this._listenedConnection.removeEventListener("ready", this._onReconnect);
    this._listenedConnection = undefined;
  }

  // The websocket is back (Home Assistant restarted, or the network came back): the subscription
  // ended with the old socket, and a subscribe sent on it never gets its answer. Not
  // unsubscribed: the new socket numbers its commands from 1 again, and the old number may now
  // be another subscription's.
  _resubscribeAfterReconnect() {
    this._forgetFeed();
    clearTimeout(this._retryTimer);
    this._retryTimer = undefined;
    if (this.isConnected) this._subscribeFeed();
  }

  _receive(message) {
    const incoming = message.sightings || [];
    // The first message of a subscription is the whole list: what was purged or deleted while
    // the card was not subscribed goes.
    const known = message.initial ? [] : this._recent;
    const byId = new Map(known.map((sighting) => [sighting.sighting_id, sighting]));
    for (const sighting of incoming) byId.set(sighting.sighting_id, sighting); // a re-announced one replaces
    this._recent = [...byId.values()]
      .sort((a, b) => (a.seen_at < b.seen_at ? 1 : a.seen_at > b.seen_at ? -1 : b.sighting_id - a.sighting_id))
      .slice(0, this._config.limit);
    this._renderRecent();
  }

  _renderRecent() {
    if (!this._built) return;
    this._renderRows(this.shadowRoot.getElementById("recent"), this._recent, this._strings().none);
  }

  _renderRows(list, sightings, emptyText) {
    if (!sightings.length) {
      list.replaceChildren(element("li", { class: "empty" }, emptyText));
      return;
    }
    list.replaceChildren(...sightings.map((sighting) => this._row(sighting)));
  }

  _row(sighting) {
    const s = this._strings();
    const row = element("li", {
      class: "sighting",
      "data-id": sighting.sighting_id,
      "data-plate": sighting.plate,
      "data-camera": sighting.camera,
      tabindex: 0,
    });
    if (sighting.crop_url) row.append(element("img", { src: sameOrigin(sighting.crop_url), alt: sighting.plate, loading: "lazy" }));
    const text = element("div", { class: "grow" });
    text.append(element("div", { class: "plate" }, sighting.plate));
    const direction = s.directions[sighting.direction] || "";
    const confidence = `${Math.round((sighting.confidence || 0) * 100)} %`;
    text.append(
      element("div", { class: "meta" }, [this._time(sighting.seen_at), sighting.camera_name || sighting.camera, direction, confidence].filter(Boolean).join(" · ")),
    );
    row.append(text);
    row.addEventListener("keydown", (event) => {
      if (event.key === "Enter") this._showRoute(sighting.plate);
    });
    return row;
  }

  // A time as Home Assistant's own pages show it to this user: in the server's time zone when the
  // profile says so (else the browser's), with the profile's 12/24-hour clock; the date too
  // unless it is today there.
  _time(iso) {
    const when = new Date(iso);
    if (Number.isNaN(when.getTime())) return iso || "";
    const locale = (this._hass && this._hass.locale) || {};
    const language = locale.language || (this._hass && this._hass.language) || undefined;
    const options = {};
    const serverZone = this._hass && this._hass.config && this._hass.config.time_zone;
    if (locale.time_zone === "server" && serverZone && knownTimeZone(serverZone)) options.timeZone = serverZone;
    const cycle = hourCycle(locale.time_format);
    if (cycle) options.hourCycle = cycle;
    const day = (date) => date.toLocaleDateString("en-CA", { timeZone: options.timeZone });
    const today = day(new Date()) === day(when);
    return today ? when.toLocaleTimeString(language, options) : when.toLocaleString(language, options);
  }

  // --- search and route --------------------------------------------------------------------

  async _callService(service, data) {
    const answer = await this._hass.callWS({
      type: "call_service",
      domain: "plate_tracker",
      service,
      service_data: data,
      return_response: true,
    });
    return answer.response;
  }

  _message(err) {
    if (!err) return "";
    if (typeof err === "string") return err;
    return err.message || err.code || String(err);
  }

  _setError(text) {
    if (this._built) this.shadowRoot.getElementById("error").textContent = text;
  }

  async _search(more = false) {
    const root = this.shadowRoot;
    const s = this._strings();
    const results = root.getElementById("results");
    const moreButton = root.getElementById("more");
    // One page at a time: a second click on "More" would ask for the same page again, and
    // while a new search loads, the cursor is the old search's.
    if (more && (this._searching || !this._nextCursor)) return;
    // "More" goes on with the search as it was sent, whatever the boxes hold now.
    if (!more) {
      const plate = root.getElementById("plate").value.trim();
      const reason = root.getElementById("reason").value.trim();
      if (!reason) {
        this._setError(s.no_reason);
        return;
      }
      this._query = { reason, fuzzy: true, page_size: this._config.page_size };
      if (plate) this._query.plate = plate;
      this._found = [];
      this._nextCursor = undefined;
      this._searchRequest += 1;
    }
    const request = this._searchRequest;
    this._searching = true;
    moreButton.setAttribute("disabled", "");
    this._setError("");
    const data = { ...this._query };
    if (more) data.cursor = this._nextCursor;
    let response;
    let failure;
    try {
      response = await this._callService("search_sightings", data);
    } catch (err) {
      failure = err;
    }
    // A search started since: this answer (of an earlier search, or its next page) is not wanted.
    if (request !== this._searchRequest) return;
    this._searching = false;
    moreButton.removeAttribute("disabled");
    if (response) {
      this._found = [...this._found, ...(response.sightings || [])];
      this._nextCursor = response.next_cursor;
      this._renderRows(results, this._found, s.no_results);
    } else {
      if (!more) results.replaceChildren();
      this._nextCursor = undefined;
      this._setError(this._message(failure));
    }
    if (this._nextCursor) moreButton.removeAttribute("hidden");
    else moreButton.setAttribute("hidden", "");
  }


  async _showRoute(plate) {
    if (!plate || !this._hass) return;
    const root = this.shadowRoot;
    const s = this._strings();
    // A route lookup is audited like a search, and needs its reason (the services refuse it
    // without one): where a car went is as personal as a search for it.
    const reasonBox = root.getElementById("reason");
    const reason = reasonBox.value.trim();
    if (!reason) {
      this._setError(s.no_reason);
      reasonBox.focus();
      return;
    }
    const request = ++this._routeRequest;
    const section = root.getElementById("route");
    this._shownRoute = undefined;
    root.getElementById("route-title").textContent = `${s.route} ${plate}`;
    const status = root.getElementById("status");
    status.textContent = "";
    status.removeAttribute("data-state");
    root.getElementById("trips").replaceChildren();
    root.getElementById("route-map").replaceChildren();
    root.getElementById("route-note").textContent = "";
    root.getElementById("route-truncated").textContent = "";
    root.getElementById("last-seen").setAttribute("hidden", "");
    section.removeAttribute("hidden");
    let route;
    let where;
    try {
      [route, where] = await Promise.all([
        this._callService("get_route", { plate, reason, max_sightings: ROUTE_MAX_SIGHTINGS }),
        this._callService("where_is", { plate, reason }),
      ]);
    } catch (err) {
      if (request === this._routeRequest) this._setError(this._message(err));
      return;
    }
    // Another plate clicked since (or the route closed): its answer would show under this title.
    if (request !== this._routeRequest) return;
    this._setError("");
    this._shownRoute = { plate, route, where };
    this._renderRoute(this._shownRoute);
  }

  _renderRoute({ plate, route, where }) {
    const s = this._strings();
    const root = this.shadowRoot;
    root.getElementById("route-title").textContent = `${s.route} ${plate}`;
    const status = root.getElementById("status");
    const state = where.city_status ? where.city_status.state : "unknown";
    status.setAttribute("data-state", state);
    status.textContent = `${s.status}: ${s.states[state] || state}`;
    root.getElementById("route-note").textContent = "";
    this._renderLastSeen(where.last_sighting);
    this._renderTrips(route);
    this._renderMap(route.trips || []);
  }

  // The picture of where the vehicle was last seen; a click opens it full size.
  _renderLastSeen(last) {
    const link = this.shadowRoot.getElementById("last-seen");
    const url = last && (last.snapshot_url || last.crop_url);
    if (!url) {
      link.replaceChildren();
      return;
    }
    const local = sameOrigin(url);
    link.setAttribute("href", local);
    const where = [last.camera_name || last.camera, this._time(last.seen_at)].filter(Boolean).join(" · ");
    link.replaceChildren(element("img", { src: local, alt: `${last.plate} · ${where}` }), element("div", { class: "meta" }, where));
    link.removeAttribute("hidden");
  }

  // The trips, oldest first, and how much of a long route they show (get_route lists only the
  // latest ROUTE_MAX_SIGHTINGS sightings).
  _renderTrips(route) {
    const s = this._strings();
    const trips = route.trips || [];
    const list = this.shadowRoot.getElementById("trips");
    const shown = trips.reduce((count, trip) => count + trip.sightings.length, 0);
    this.shadowRoot.getElementById("route-truncated").textContent = route.truncated
      ? s.truncated.replace("{shown}", shown).replace("{total}", route.sighting_count)
      : "";
    const names = new Map(trips.flatMap((trip) => trip.sightings.map((stop) => [stop.camera, stop.camera_name || stop.camera])));
    const rows = [];
    for (const trip of trips) {
      rows.push(element("li", { class: "trip" }, `${s.trip} ${trip.index + 1}`));
      for (const stop of trip.sightings) {
        const direction = s.directions[stop.direction] || "";
        const flags = stop.flags || [];
        const row = element(
          "li",
          {
            class: flags.includes("impossible_travel") ? "stop impossible" : "stop",
            "data-camera": stop.camera,
            "data-id": stop.id,
            "data-flags": flags.length ? flags.join(" ") : undefined,
          },
          [this._time(stop.time), stop.camera_name || stop.camera, direction, stop.plate].filter(Boolean).join(" · "),
        );
        // What the route doubts about a sighting: a speed no car makes between two cameras
        // (a misread, or two cars with one plate), or a misread counted as this vehicle.
        for (const flag of flags) {
          let label = s.flags[flag] || flag;
          if (flag === "impossible_travel") {
            const detail = this._impossibleTravel(stop, route.impossible_travel || [], names);
            if (detail) label = `${label} (${detail})`;
          }
          row.append(" · ", element("span", { class: "flag", "data-flag": flag }, label));
        }
        rows.push(row);
      }
    }
    list.replaceChildren(...rows);
  }

  // How fast the vehicle would have had to go to be the sighting next to this one: from the
  // one before it (where this one is the later of a pair), else to the one after it.
  _impossibleTravel(stop, pairs, names) {
    const s = this._strings();
    const arriving = pairs.find((pair) => pair.to_id === stop.id);
    const pair = arriving || pairs.find((pair) => pair.from_id === stop.id);
    if (!pair) return "";
    const other = arriving ? pair.from_camera : pair.to_camera;
    const camera = names.get(other) || other;
    if (typeof pair.speed_kmh !== "number") return s.same_moment.replace("{camera}", camera);
    return (arriving ? s.speed_from : s.speed_to).replace("{speed}", Math.round(pair.speed_kmh)).replace("{camera}", camera);
  }

  _renderMap(trips) {
    const svg = this.shadowRoot.getElementById("route-map");
    // Each trip's sightings at a camera with a place on the camera map.
    const mapped = trips.map((trip) => trip.sightings.filter((stop) => typeof stop.latitude === "number" && typeof stop.longitude === "number"));
    const stops = mapped.flat();
    if (!stops.length) {
      svg.setAttribute("display", "none");
      this.shadowRoot.getElementById("route-note").textContent = this._strings().no_map;
      return;
    }
    svg.removeAttribute("display");
    // Equirectangular projection, fitted to the box: a city is small enough for it.
    const width = 320;
    const height = 200;
    const pad = 24;
    const lats = stops.map((stop) => stop.latitude);
    const lons = stops.map((stop) => stop.longitude);
    const midLat = (Math.min(...lats) + Math.max(...lats)) / 2;
    const xScale = Math.cos((midLat * Math.PI) / 180);
    const minX = Math.min(...lons) * xScale;
    const maxX = Math.max(...lons) * xScale;
    const minY = Math.min(...lats);
    const maxY = Math.max(...lats);
    const span = Math.max(maxX - minX, maxY - minY, 1e-6);
    const scale = Math.min((width - 2 * pad) / span, (height - 2 * pad) / span);
    const offsetX = (width - (maxX - minX) * scale) / 2;
    const offsetY = (height - (maxY - minY) * scale) / 2;
    const project = (stop) => [
      offsetX + (stop.longitude * xScale - minX) * scale,
      height - (offsetY + (stop.latitude - minY) * scale),
    ];
    // One line per trip: a gap of hours between two trips is no road between their cameras.
    // An arrow halfway along each leg shows which way the vehicle went; the latest trip is drawn
    // strongest.
    const nodes = [];
    const latest = mapped.findLastIndex((trip) => trip.length > 0);
    mapped.forEach((tripStops, number) => {
      if (!tripStops.length) return;
      const earlier = number === latest ? "" : " earlier";
      const trip = trips[number].index;
      const points = tripStops.map(project);
      nodes.push(svgElement("polyline", { class: `trip${earlier}`, "data-trip": trip, points: points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" ") }));
      for (let leg = 1; leg < points.length; leg++) {
        const [x1, y1] = points[leg - 1];
        const [x2, y2] = points[leg];
        // Too short to hold an arrow between the two cameras' dots.
        if (Math.hypot(x2 - x1, y2 - y1) < MIN_ARROW_LEG) continue;
        const angle = (Math.atan2(y2 - y1, x2 - x1) * 180) / Math.PI;
        nodes.push(
          svgElement("path", {
            class: `direction${earlier}`,
            "data-trip": trip,
            "data-from": tripStops[leg - 1].camera,
            "data-to": tripStops[leg].camera,
            d: "M 6 0 L -4 -5 L -4 5 Z",
            transform: `translate(${((x1 + x2) / 2).toFixed(1)} ${((y1 + y2) / 2).toFixed(1)}) rotate(${angle.toFixed(1)})`,
          }),
        );
      }
    });
    const cameras = new Map();
    for (const stop of stops) cameras.set(stop.camera, stop);
    for (const [camera, stop] of cameras) {
      const [x, y] = project(stop);
      const circle = svgElement("circle", { class: "camera", cx: x.toFixed(1), cy: y.toFixed(1), r: 5, "data-camera": camera });
      const title = svgElement("title");
      title.textContent = stop.camera_name || camera;
      circle.append(title);
      const label = svgElement("text", { x: (x + 7).toFixed(1), y: (y + 3).toFixed(1) });
      label.textContent = stop.camera_name || camera;
      nodes.push(circle, label);
    }
    svg.replaceChildren(...nodes);
  }
}

// The card's settings in the dashboard editor: its title and how many sightings the list keeps.
class PlateTrackerCardEditor extends HTMLElement {
  constructor() {
    super();
    this.attachShadow({ mode: "open" });
    this._config = {};
    this._hass = undefined;
  }

  set hass(hass) {
    const first = this._hass === undefined;
    this._hass = hass;
    if (first) this._render();
  }

  setConfig(config) {
    this._config = { ...config };
    this._render();
  }

  _strings() {
    return inLanguage(EDITOR_STRINGS, this._hass);
  }

  _render() {
    const s = this._strings();
    const root = this.shadowRoot;
    root.replaceChildren(element("style", {}, EDITOR_STYLE));
    const title = element("input", { id: "title", placeholder: STRINGS.en.title });
    title.value = this._config.title === undefined ? "" : String(this._config.title);
    const limit = element("input", { id: "limit", type: "number", min: 1, max: MAX_LIMIT, step: 1 });
    limit.value = String(this._config.limit === undefined ? DEFAULT_LIMIT : this._config.limit);
    title.addEventListener("change", () => {
      const value = title.value.trim();
      const { title: _old, ...rest } = this._config;
      this._changed(value ? { ...rest, title: value } : rest);
    });
    limit.addEventListener("change", () => {
      const value = Number(limit.value);
      if (Number.isInteger(value) && value >= 1 && value <= MAX_LIMIT) this._changed({ ...this._config, limit: value });
    });
    const titleLabel = element("label", {}, s.title);
    titleLabel.append(title);
    const limitLabel = element("label", {}, s.limit);
    limitLabel.append(limit);
    root.append(titleLabel, limitLabel);
  }

  _changed(config) {
    this._config = config;
    this.dispatchEvent(new CustomEvent("config-changed", { detail: { config }, bubbles: true, composed: true }));
  }
}

const EDITOR_STRINGS = {
  en: { title: "Title", limit: `Sightings in the live list (1-${MAX_LIMIT})` },
  uk: { title: "Заголовок", limit: `Фіксацій у живому списку (1-${MAX_LIMIT})` },
  ru: { title: "Заголовок", limit: `Фиксаций в живом списке (1-${MAX_LIMIT})` },
};

const EDITOR_STYLE = `
  label { display: flex; flex-direction: column; gap: 4px; margin-bottom: 12px; color: var(--secondary-text-color); }
  input { padding: 8px; font: inherit; color: var(--primary-text-color); background: var(--card-background-color, #fff);
    border: 1px solid var(--divider-color, #ccc); border-radius: 4px; }
`;

function defineCard() {
  if (customElements.get("plate-tracker-card")) return;
  customElements.define("plate-tracker-card-editor", PlateTrackerCardEditor);
  customElements.define("plate-tracker-card", PlateTrackerCard);
  window.customCards = window.customCards || [];
  window.customCards.push({
    type: "plate-tracker-card",
    name: "Plate Tracker",
    description: "Latest plate sightings live, search, and a vehicle's route.",
    documentationURL: "https://github.com/plate-tracker/plate_tracker#dashboard-card",
  });
  console.info(`%\c PLATE-TRACKER-CARD %\c ${CARD_VERSION} `, "color: white; background: #03a9f4", "");
}

// The frontend loads this module while it starts, and puts its own element registry in place of
// the browser's as it does: an element defined before that is lost to it ("Custom element doesn't
// exist"). So the card is defined once the frontend has defined its own root element, which it
// does through its registry; on a page without it (none is known), after 10 s regardless.
function defineWhenFrontendIsUp(attempt = 0) {
  if (customElements.get("home-assistant") || customElements.get("plate-tracker-card") || attempt >= 100) {
    defineCard();
    return;
  }
  setTimeout(() => defineWhenFrontendIsUp(attempt + 1), 100);
}

defineWhenFrontendIsUp();
