// The four views. Each asks the API for what it shows, draws the pictures first and puts the
// numbers beside them. `now` is the API's clock (whole minutes): every score is asked for at
// that instant, so what one screen shows is one consistent moment.

import { KeyRefused, get, segment } from "./api.js";
import { BAND_COLORS, barChart, chartBox, timeChart } from "./charts.js";
import { chip, facts, h, link, number, panel, percent, seconds, table, when } from "./dom.js";

const DAY_MS = 86_400_000;
const BANDS = ["hot", "warm", "cold", "churning", "suppressed"];
const CURVE_DAYS = 30;
const CURVE_STEP = "PT12H";
const TOP_ITEMS = 5;
const PAGE_SIZE = 20;

// The API's clock, not the browser's: a local runner may run at another instant (START_AT, a
// clock moved a week ahead), and a score at the browser's "now" would then be a different day.
// Learned once per page from the overview's as_of, kept as an offset from the browser's clock.
let clockOffsetMs = null;

async function apiNow() {
  if (clockOffsetMs === null) {
    const { as_of: asOf } = await get("v1/overview");
    clockOffsetMs = Date.parse(asOf) - Date.now();
  }
  const now = new Date(Date.now() + clockOffsetMs);
  now.setUTCSeconds(0, 0);
  return now;
}

const personHash = (id) => `#/person/${encodeURIComponent(id)}`;
const campaignHash = (id) => `#/campaign/${encodeURIComponent(id)}`;
const bandHash = (band) => `#/band/${encodeURIComponent(band)}`;

function title(root, ...parts) {
  root.append(h("h1", {}, ...parts));
}

function notice(message) {
  return h("p", { class: "notice" }, message);
}

// ------------------------------------------------------------------------------- overview

export async function overview(root) {
  const data = await get("v1/overview");
  clockOffsetMs = Date.parse(data.as_of) - Date.now();
  title(root, "Overview");
  root.append(h("p", { class: "subtitle" }, `as of ${when(data.as_of)}`));

  const hours = data.accepted.hours;
  const lastHour = hours.at(-1)?.events ?? 0;
  const peak = hours.reduce((best, hour) => (hour.events > best.events ? hour : best), hours[0]);
  const accepted = chartBox("accepted");
  const bands = chartBox("bands");
  const campaigns = chartBox("campaigns");
  const campaignRows = data.campaigns.map((c) => [
    link(campaignHash(c.item_id), c.item_id),
    number(c.reached),
    number(c.clicked),
    number(c.converted),
  ]);
  const failures = data.failures;
  root.append(
    h(
      "div",
      { class: "panels" },
      panel("Events accepted per hour, last 48 hours", {
        name: "accepted",
        charts: [accepted],
        figures: [
          h("div", { class: "big" }, number(data.accepted.total)),
          h("p", {}, "events in 48 hours"),
          facts([
            ["this hour", number(lastHour)],
            ["busiest hour", peak && peak.events ? `${when(peak.hour)} (${number(peak.events)})` : "none"],
          ]),
        ],
      }),
      panel("Contacts per band", {
        name: "bands",
        charts: [bands],
        figures: [
          table(
            ["band", "contacts"],
            data.bands.map((b) => [link(bandHash(b.band), chip(b.band)), number(b.contacts)]),
            [1],
          ),
        ],
      }),
      panel("Top campaigns by first-stage reach", {
        name: "campaigns",
        charts: data.campaigns.length ? [campaigns] : [notice("No campaign has a funnel yet.")],
        figures: [
          campaignRows.length
            ? table(["campaign", "delivered", "clicked", "converted"], campaignRows, [1, 2, 3])
            : notice("A campaign appears once a contact reaches a stage of its funnel."),
        ],
      }),
      panel("Maintenance and failures", {
        name: "operations",
        figures: [
          data.runs.length === 0
            ? notice("No decay or cleanup run yet.")
            : table(
            ["job", "scheduled for", "state", "examined", "written"],
            data.runs.map((run) => [
              run.job,
              when(run.scheduled_for),
              run.finished_at ? (run.complete ? "complete" : "incomplete") : "running",
              number(run.examined),
              number(run.written),
            ]),
            [3, 4],
          ),
          facts([
            ["stream failures waiting", failures.waiting === null ? "unknown" : number(failures.waiting)],
            ["where", failures.detail],
          ]),
        ],
      }),
    ),
  );

  timeChart(accepted, {
    xs: hours.map((hour) => seconds(hour.hour)),
    series: [{ label: "events", values: hours.map((hour) => hour.events) }],
    yLabel: "events",
    bars: true,
  });
  barChart(bands, {
    labels: data.bands.map((b) => b.band),
    series: [
      { label: "contacts", values: data.bands.map((b) => b.contacts), colors: data.bands.map((b) => BAND_COLORS[b.band]) },
    ],
    yLabel: "contacts",
  });
  if (data.campaigns.length) {
    barChart(campaigns, {
      labels: data.campaigns.map((c) => c.item_id),
      series: [{ label: "delivered", values: data.campaigns.map((c) => c.reached) }],
      yLabel: "contacts",
    });
  }
}

// --------------------------------------------------------------------------------- person

async function settled(promise) {
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    if (error instanceof KeyRefused) throw error;
    return { ok: false, error };
  }
}

export async function person(root, userId) {
  const now = await apiNow();
  const asOf = now.toISOString();
  // Curves on a grid of whole half-days, so the daily history points fall on it.
  const today = Math.floor(now.getTime() / DAY_MS) * DAY_MS;
  const from = new Date(today - CURVE_DAYS * DAY_MS).toISOString();
  const to = new Date(today + CURVE_DAYS * DAY_MS).toISOString();
  const user = segment(userId);
  title(root, "Person ", h("code", {}, userId));

  const [engagements, score, history, timeline] = await Promise.all([
    settled(get(`v1/users/${user}/engagements`, { limit: TOP_ITEMS, as_of: asOf })),
    settled(get(`v1/users/${user}/score`, { profile: "crm", as_of: asOf })),
    settled(
      get(`v1/users/${user}/history`, {
        from: new Date(now.getTime() - 90 * DAY_MS).toISOString().slice(0, 10),
        to: asOf.slice(0, 10),
      }),
    ),
    settled(get(`v1/users/${user}/events`, { limit: 50, to: asOf })),
  ]);
  const items = engagements.ok ? engagements.value.engagements : [];
  if (!items.length && !score.ok) {
    root.append(notice(absentText(userId, score.error, asOf)));
    return;
  }
  const curves = await Promise.all(
    items.map((item) =>
      get(`v1/users/${user}/curve`, { item_id: item.item_id, profile: "linear", from, to, step: CURVE_STEP }),
    ),
  );
  const crmCurve = score.ok
    ? await get(`v1/users/${user}/curve`, { profile: "crm", from, to, step: CURVE_STEP })
    : null;

  const linearChart = chartBox("linear");
  const crmChart = chartBox("crm");
  const componentChart = chartBox("components");
  const historyChart = chartBox("history");
  const panels = h("div", { class: "panels" });
  root.append(
    h("p", { class: "subtitle", "data-as-of": asOf }, `as of ${when(asOf)}; curves run ${CURVE_DAYS} days back and forward`),
    panels,
  );

  if (items.length) {
    panels.append(
      panel("Linear: what this person cares about", {
        name: "linear",
        charts: [linearChart],
        figures: [
          table(
            ["item", "score", "interactions", "last"],
            items.map((item) => [item.item_id, number(item.score, 4), number(item.interaction_count), when(item.last_interaction)]),
            [1, 2],
          ),
          h(
            "p",
            { class: "notice" },
            "After the dashed line: the score if nothing new happens. Before an item's first event it is 0; " +
              "from then to its latest event the line breaks, because the stored totals cannot replay the past.",
          ),
        ],
      }),
    );
  }
  if (score.ok) {
    const s = score.value;
    const p = s.probabilities;
    const probability = (x) => (x.status === "ok" ? percent(x.value) : "not enough data");
    panels.append(
      panel("CRM: how engaged, overall", {
        name: "crm",
        charts: [crmChart, componentChart],
        figures: [
          h("div", { class: "big" }, number(s.score, 2)),
          h("p", {}, "score of 100, band ", chip(s.band)),
          h("p", { class: "sentence" }, s.explanation.sentence),
          facts([
            ["engagement (30 d)", probability(p.engagement)],
            ["conversion (30 d)", probability(p.conversion)],
            ["churn risk", probability(p.churn_risk)],
            ["percentile", s.percentile.value === null ? "not ranked yet" : number(s.percentile.value, 1)],
            ["suppressed", s.suppressed ? `since ${when(s.suppressed.since)}` : "no"],
          ]),
          table(
            ["component", "value", "weight", "points"],
            s.explanation.components.map((c) => [c.name, number(c.value, 2), number(c.weight, 2), number(c.points, 2)]),
            [1, 2, 3],
          ),
        ],
      }),
    );
  }
  const historyPoints = history.ok ? history.value.points : [];
  panels.append(
    panel("History: the daily run's points", {
      name: "history",
      charts: historyPoints.length ? [historyChart] : [],
      figures: [
        historyPoints.length
          ? table(["day", "score", "band"], historyPoints.slice(-10).map((pt) => [pt.date, number(pt.score, 2), chip(pt.band)]), [1])
          : notice("No history yet: the daily run writes a point on each day the score moved by 0.1 or more."),
      ],
    }),
    timelinePanel(timeline),
  );

  if (items.length) {
    timeChart(linearChart, {
      xs: curves[0].points.map((pt) => seconds(pt.at)),
      series: curves.map((curve) => ({ label: curve.item_id, values: curve.points.map((pt) => pt.score) })),
      yLabel: "Linear score",
      range: [0, 1],
      now: seconds(asOf),
    });
  }
  if (crmCurve) {
    // The curve cannot say what happened before the latest event; the daily run's points can.
    const daily = new Map(historyPoints.map((pt) => [`${pt.date}T00:00:00Z`, pt.score]));
    const overlay = crmCurve.points.map((pt) => daily.get(pt.at.replace(".000Z", "Z")) ?? null);
    const series = [{ label: "CRM score", values: crmCurve.points.map((pt) => pt.score), color: BAND_COLORS.hot }];
    if (overlay.some((value) => value !== null)) {
      series.push({ label: "daily run", values: overlay, color: BAND_COLORS.churning, sparse: true });
    }
    timeChart(crmChart, {
      xs: crmCurve.points.map((pt) => seconds(pt.at)),
      series,
      yLabel: "CRM score",
      range: [0, 100],
      now: seconds(asOf),
    });
    const components = score.value.components;
    const names = Object.keys(components);
    barChart(componentChart, {
      labels: names,
      series: [{ label: "component", values: names.map((name) => components[name]) }],
      yLabel: "0-100",
      range: [0, 100],
    });
  }
  if (historyPoints.length) {
    timeChart(historyChart, {
      xs: historyPoints.map((pt) => seconds(`${pt.date}T00:00:00Z`)),
      series: [{ label: "daily score", values: historyPoints.map((pt) => pt.score) }],
      yLabel: "CRM score",
      range: [0, 100],
    });
  }
}

// 410: the person was erased; an erased number that had opted out must not be messaged.
function absentText(userId, error, asOf) {
  if (error?.status !== 410) return `Nothing has been recorded for ${userId} (as of ${when(asOf)}).`;
  const body = error.body || {};
  const erased = `${userId} was erased on ${when(body.erased_at)}; nothing is recorded since.`;
  return body.suppressed ? `${erased} They had opted out (${body.suppressed.reason}): do not message them.` : erased;
}

function timelinePanel(timeline) {
  if (!timeline.ok) {
    const status = timeline.error?.status ? ` (the events route answered ${timeline.error.status})` : "";
    return panel("Timeline", { name: "timeline", figures: [notice(`Timeline unavailable${status}.`)] });
  }
  const events = timeline.value.events;
  return panel("Timeline", {
    name: "timeline",
    figures: [
      events.length
        ? h(
            "ul",
            { class: "timeline" },
            events.map((e) =>
              h(
                "li",
                {},
                h("time", { datetime: e.occurred_at }, when(e.occurred_at)),
                `${e.type} `,
                h("code", {}, e.item_id),
                e.value === null || e.value === undefined ? "" : ` ${number(e.value, 2)}`,
                e.source ? ` via ${e.source}` : "",
                e.context ? h("span", { class: "notice" }, ` "${e.context}"`) : null,
              ),
            ),
          )
        : notice("No events in the window."),
      timeline.value.cursor ? notice("Older events exist; the newest 50 are shown.") : null,
    ],
  });
}

// ------------------------------------------------------------------------------- campaign

export async function campaign(root, itemId) {
  title(root, "Campaign ", h("code", {}, itemId));
  let funnel;
  try {
    funnel = await get(`v1/items/${segment(itemId)}/funnel`);
  } catch (error) {
    if (error.status === 404) {
      root.append(notice(`No funnel is recorded for ${itemId}: no contact reached a stage yet.`));
      return;
    }
    throw error;
  }
  const funnelChart = chartBox("funnel");
  const rows = funnel.steps.map((step) => [step.stage, number(step.contacts), percent(step.rate_from_previous), percent(step.rate_from_first)]);
  const exits = funnel.exits.map((exit) => [exit.stage, number(exit.contacts), "", percent(exit.rate_from_first)]);
  root.append(
    h(
      "div",
      { class: "panels" },
      panel("Funnel: contacts reaching each stage, each counted once", {
        name: "funnel",
        charts: [funnelChart],
        figures: [
          table(["stage", "contacts", "from previous", "from delivered"], [...rows, ...exits], [1, 2, 3]),
          h("p", { class: "notice" }, "Opted out and bounced are exits, as shares of the delivered."),
        ],
      }),
    ),
  );
  barChart(funnelChart, {
    labels: funnel.steps.map((step) => step.stage),
    series: [{ label: "contacts", values: funnel.steps.map((step) => step.contacts) }],
    yLabel: "contacts",
  });
}

// ----------------------------------------------------------------------------------- band

export async function band(root, name, { cursor, hasPrevious, go }) {
  if (!BANDS.includes(name)) {
    title(root, "Band");
    root.append(notice(`There is no band called ${name}: ${BANDS.join(", ")}.`));
    return;
  }
  title(root, "Band ", chip(name));
  const page = await get(`v1/segments/${segment(name)}`, { limit: PAGE_SIZE, cursor });
  if (!page.members.length) {
    root.append(notice(cursor ? "No more members." : `No contact is in the ${name} band right now.`));
  }
  const membersChart = chartBox("members");
  const pager = h(
    "div",
    { class: "pager" },
    hasPrevious ? h("button", { type: "button", on: { click: () => go("previous") } }, "Previous page") : null,
    page.cursor ? h("button", { type: "button", on: { click: () => go("next", page.cursor) } }, "Next page") : null,
  );
  if (page.members.length) {
    root.append(
      h(
        "div",
        { class: "panels" },
        panel(`Members, ${PAGE_SIZE} at a time`, {
          name: "members",
          charts: [membersChart],
          figures: [
            table(
              ["", "contact", "score", "since"],
              page.members.map((m, i) => [
                String(i + 1),
                link(personHash(m.user_id), m.user_id),
                number(m.score, 2),
                when(m.since),
              ]),
              [0, 2],
            ),
            pager,
          ],
        }),
      ),
    );
    barChart(membersChart, {
      // Rows of the table beside (ids are too long to label twenty bars).
      labels: page.members.map((_, i) => String(i + 1)),
      series: [{ label: "score", values: page.members.map((m) => m.score), color: BAND_COLORS[name] }],
      yLabel: "score when listed",
      range: [0, 100],
    });
  } else if (hasPrevious) {
    root.append(pager);
  }
}
