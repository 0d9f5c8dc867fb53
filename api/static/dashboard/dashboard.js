// The reference dashboard (api/dashboard.py). Plain browser JavaScript, no build step: it signs in, asks who the
// viewer is, then runs only the registered documents whose data the viewer's role may read, by id (never query
// text), and fills the matching sections. Everything is written with textContent: no data is ever parsed as HTML.
"use strict";

(function () {
  const config = JSON.parse(document.getElementById("rentan-config").textContent);
  const TOKEN_KEY = "rentan.dashboard.token";
  const PAGE_SIZE = 100; // the API's largest page (RENTAN_MAX_PAGE_SIZE's default)

  const number = new Intl.NumberFormat("id-ID");
  const rupiahFormat = new Intl.NumberFormat("id-ID", { style: "currency", currency: "IDR", maximumFractionDigits: 0 });
  const dayFormat = new Intl.DateTimeFormat("id-ID", { day: "numeric", month: "long", year: "numeric" });
  const monthFormat = new Intl.DateTimeFormat("id-ID", { month: "short", year: "numeric" });
  const longMonthFormat = new Intl.DateTimeFormat("id-ID", { month: "long", year: "numeric" });

  // Rupiah arrive as decimal strings (budgets exceed a 32-bit Int): formatted as BigInt, exactly.
  const rupiah = (value) => rupiahFormat.format(BigInt(value));
  const count = (value) => number.format(value);
  const day = (iso) => {
    const [y, m, d] = iso.split("-").map(Number);
    return dayFormat.format(new Date(y, m - 1, d));
  };
  const month = (period, format) => {
    const [y, m] = period.split("-").map(Number);
    return (format || monthFormat).format(new Date(y, m - 1, 1));
  };

  const $ = (id) => document.getElementById(id);
  function element(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (className) node.className = className;
    return node;
  }
  function status(text) {
    $("status").textContent = text;
  }
  function problem(text) {
    const box = $("problem");
    box.textContent = text;
    box.hidden = !text;
  }
  function show(id, visible) {
    $(id).hidden = !visible;
  }

  class SignInNeeded extends Error {}

  // --- sign-in: a pasted token in development, OpenID Connect (code flow with PKCE) in production

  const oidcManager =
    config.signIn === "oidc" && config.oidc
      ? new oidc.UserManager({
          authority: config.oidc.authority,
          client_id: config.oidc.clientId,
          scope: config.oidc.scope,
          redirect_uri: location.origin + location.pathname,
          post_logout_redirect_uri: location.origin + location.pathname,
          response_type: "code", // with PKCE (S256), which oidc-client-ts always sends for the code flow
          userStore: new oidc.WebStorageStateStore({ store: window.sessionStorage }),
          automaticSilentRenew: false, // no hidden iframe: the page's policy allows no frame
          monitorSession: false,
          loadUserInfo: false,
        })
      : null;

  async function currentToken() {
    if (oidcManager === null) return sessionStorage.getItem(TOKEN_KEY);
    const params = new URLSearchParams(location.search);
    if (params.has("code") || params.has("error")) {
      // Back from the identity provider: exchange the code (with the PKCE verifier kept in sessionStorage),
      // then take code and state out of the address bar, so a reload or a bookmark does not replay them.
      try {
        await oidcManager.signinRedirectCallback();
      } finally {
        history.replaceState(null, "", location.pathname);
      }
    }
    const user = await oidcManager.getUser();
    return user && !user.expired ? user.access_token : null;
  }

  async function forgetToken() {
    sessionStorage.removeItem(TOKEN_KEY);
    if (oidcManager !== null) await oidcManager.removeUser();
  }

  function showSignIn(message) {
    document.body.dataset.state = "signin";
    for (const id of ["figures", "funding", "bills", "at-risk", "kelurahan", "session"]) show(id, false);
    show("sign-in", true);
    show("token-form", oidcManager === null);
    show("oidc-sign-in", oidcManager !== null);
    status("");
    problem(message || "");
  }

  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("token-input").value.trim().replace(/^Bearer\s+/i, "");
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    $("token-input").value = "";
    start();
  });
  $("oidc-submit").addEventListener("click", () => {
    oidcManager.signinRedirect().catch((error) => problem("Tidak dapat menghubungi layanan masuk: " + error.message));
  });
  $("sign-out").addEventListener("click", async () => {
    await forgetToken();
    showSignIn("Anda telah keluar.");
  });

  // --- the API, by registered document only

  async function run(token, name, variables) {
    const documentId = config.documents[name];
    const response = await fetch(config.graphql, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "Accept-Language": "id",
        Authorization: "Bearer " + token,
      },
      body: JSON.stringify({ documentId: documentId, variables: variables || {} }),
    });
    if (response.status === 401) throw new SignInNeeded("Sesi tidak berlaku lagi: silakan masuk kembali.");
    let body;
    try {
      body = await response.json();
    } catch (error) {
      throw new Error("Jawaban server tidak terbaca (HTTP " + response.status + ").");
    }
    if (body.errors && body.errors.length) throw new Error(body.errors.map((e) => e.message).join(" "));
    if (!response.ok || !body.data) throw new Error("Server menjawab HTTP " + response.status + ".");
    return body.data;
  }

  // --- sections

  function figure(list, key, label, value, formatted) {
    const box = element("div");
    box.append(element("dt", label));
    const dd = element("dd", formatted);
    dd.dataset.figure = key;
    dd.dataset.value = String(value);
    if (String(value).startsWith("-")) dd.classList.add("negative");
    box.append(dd);
    list.append(box);
  }

  function row(cells) {
    const tr = element("tr");
    for (const cell of cells) {
      const [text, className] = Array.isArray(cell) ? cell : [cell, ""];
      tr.append(element("td", text, className));
    }
    return tr;
  }

  function header(table, columns) {
    const tr = table.querySelector("thead tr");
    tr.replaceChildren(
      ...columns.map(([label, className]) => {
        const th = element("th", label, className);
        th.scope = "col";
        return th;
      }),
    );
  }

  function fillFigures(summary, can) {
    const list = $("figures-list");
    list.replaceChildren();
    if (can("worker:read")) figure(list, "workers", "Pekerja terdaftar", summary.workers, count(summary.workers));
    if (can("enrollment:read")) {
      figure(list, "activeEnrollments", "Peserta aktif", summary.activeEnrollments, count(summary.activeEnrollments));
      figure(
        list,
        "proposedEnrollments",
        "Menunggu verifikasi BPJSTK",
        summary.proposedEnrollments,
        count(summary.proposedEnrollments),
      );
      figure(
        list,
        "rejectedEnrollments",
        "Usulan ditolak",
        summary.rejectedEnrollments,
        count(summary.rejectedEnrollments),
      );
    }
    show("figures", list.children.length > 0);
  }

  let chart = null;
  function drawChart(months, allocated) {
    const labels = months.map((m) => month(m.period));
    let running = 0;
    const cumulative = months.map((m) => (running += Number(m.projected)));
    const data = {
      labels: labels,
      datasets: [
        { type: "bar", label: "Ditagih", data: months.map((m) => Number(m.billed)), backgroundColor: "#0b5394", yAxisID: "y" },
        { type: "bar", label: "Dibayar", data: months.map((m) => Number(m.paid)), backgroundColor: "#1f6b3a", yAxisID: "y" },
        {
          type: "bar",
          label: "Proyeksi (belum ditagih)",
          data: months.map((m) => (m.isProjection ? Number(m.projected) : 0)),
          backgroundColor: "#9db7d5",
          yAxisID: "y",
        },
        {
          type: "line",
          label: "Kumulatif proyeksi belanja",
          data: cumulative,
          borderColor: "#b45f06",
          backgroundColor: "#b45f06",
          yAxisID: "total",
        },
        {
          type: "line",
          label: "Alokasi",
          data: months.map(() => Number(allocated)),
          borderColor: "#a4161a",
          backgroundColor: "#a4161a",
          borderDash: [6, 4],
          pointRadius: 0,
          yAxisID: "total",
        },
      ],
    };
    const money = (value) => rupiahFormat.format(value);
    const options = {
      animation: false, // drawn at once: what the page shows is final when it says it is ready
      responsive: true,
      maintainAspectRatio: false,
      locale: "id-ID",
      interaction: { mode: "index", intersect: false },
      plugins: {
        legend: { position: "bottom" },
        tooltip: { callbacks: { label: (c) => c.dataset.label + ": " + money(c.parsed.y) } },
      },
      scales: {
        y: { position: "left", beginAtZero: true, title: { display: true, text: "Per bulan" }, ticks: { callback: money } },
        total: {
          position: "right",
          beginAtZero: true,
          title: { display: true, text: "Kumulatif" },
          grid: { drawOnChartArea: false },
          ticks: { callback: money },
        },
      },
    };
    if (chart !== null) chart.destroy();
    chart = new Chart($("realisation-chart"), { data: data, options: options });
  }

  function fillFunding(data) {
    const summary = data.programmeSummary;
    const r = summary.realisation;
    const list = $("funding-list");
    list.replaceChildren();
    if (r) {
      figure(list, "allocated", "Alokasi", r.allocated, rupiah(r.allocated));
      figure(list, "billed", "Ditagih", r.billed, rupiah(r.billed));
      figure(list, "paid", "Dibayar", r.paid, rupiah(r.paid));
      figure(list, "remaining", "Sisa alokasi", r.remaining, rupiah(r.remaining));
      figure(list, "projectedSpend", "Proyeksi belanja", r.projectedSpend, rupiah(r.projectedSpend));
      figure(list, "projectedRemaining", "Proyeksi sisa", r.projectedRemaining, rupiah(r.projectedRemaining));
      const body = $("months-table").querySelector("tbody");
      body.replaceChildren(
        ...r.months.map((m) =>
          row([
            month(m.period, longMonthFormat),
            [count(m.isProjection ? m.membersActive : m.membersBilled), "num"],
            [rupiah(m.billed), "num"],
            [rupiah(m.paid), "num"],
            [rupiah(m.projected), "num"],
            m.isProjection ? "proyeksi (belum ditagih)" : "ditagih",
          ]),
        ),
      );
      drawChart(r.months, r.allocated);
    }
    const sources = $("sources-table").querySelector("tbody");
    sources.replaceChildren(
      ...(summary.funding || []).map((s) =>
        row([
          s.code,
          s.name,
          String(s.fiscalYear),
          [rupiah(s.allocated), "num"],
          [rupiah(s.billed), "num"],
          [rupiah(s.paid), "num"],
          [rupiah(s.remaining), "num"],
          [count(s.membersAtRisk), s.membersAtRisk > 0 ? "num overdue" : "num"],
        ]),
      ),
    );
    show("funding", true);

    // Every bill not yet paid: the overdue ones first, then by due date. The page does not decide "near" with the
    // browser's clock: the server's `overdue` (on the programme's calendar) says which are past due.
    const bills = data.contributionBills;
    const unpaid = bills.edges
      .map((e) => e.node)
      .filter((b) => b.status !== "PAID")
      .sort((a, b) => Number(b.overdue) - Number(a.overdue) || a.dueDate.localeCompare(b.dueDate));
    $("bills-table").querySelector("tbody").replaceChildren(
      ...unpaid.map((b) =>
        row([
          month(b.period, longMonthFormat),
          b.fundingSource.code,
          [count(b.participants), "num"],
          [rupiah(b.amount), "num"],
          day(b.dueDate),
          b.overdue ? ["Lewat jatuh tempo", "overdue"] : ["Belum jatuh tempo", "pending"],
        ]),
      ),
    );
    const overdue = unpaid.filter((b) => b.overdue).length;
    let note = unpaid.length
      ? count(unpaid.length) + " tagihan belum dibayar, " + count(overdue) + " di antaranya lewat jatuh tempo."
      : "Semua tagihan sudah dibayar.";
    if (bills.totalCount > bills.edges.length) {
      note += " (Dari " + count(bills.edges.length) + " tagihan terbaru; seluruhnya " + count(bills.totalCount) + ".)";
    }
    $("bills-note").textContent = note;
    show("bills", true);
    return unpaid.filter((b) => b.overdue);
  }

  function fillAtRisk(connection, funding, overdueBills, personal) {
    const summary = $("at-risk-summary");
    summary.replaceChildren();
    const lapsed = connection.edges.map((e) => e.node);
    const item = element("li");
    item.append(element("strong", count(connection.totalCount)));
    item.append(" peserta berstatus LAPSED (kepesertaan terputus karena iuran tidak dibayar).");
    item.dataset.figure = "lapsed";
    item.dataset.value = String(connection.totalCount);
    summary.append(item);
    for (const source of funding || []) {
      if (source.membersAtRisk > 0) {
        summary.append(
          element(
            "li",
            count(source.membersAtRisk) +
              " peserta aktif " +
              source.code +
              " akan terputus bila satu tagihan lagi tidak dibayar.",
            "overdue",
          ),
        );
      }
    }
    if (connection.totalCount > lapsed.length) {
      summary.append(element("li", "Menampilkan " + count(lapsed.length) + " peserta pertama.", "muted"));
    }
    const billsOf = (code) => overdueBills.filter((b) => b.fundingSource.code === code);
    const billText = (bills) =>
      bills.length
        ? bills.map((b) => month(b.period) + ": " + rupiah(b.amount) + ", jatuh tempo " + day(b.dueDate)).join("; ")
        : "tidak ada yang tertunggak";
    const table = $("at-risk-table");
    const showBills = overdueBills !== null;
    if (personal) {
      // Named members, for roles that handle personal data; with the unpaid bills of the source behind them.
      header(table, [
        ["Nama"],
        ["No. KPJ"],
        ["Kelurahan"],
        ["Sumber dana"],
        ...(showBills ? [["Tagihan tertunggak"]] : []),
      ]);
      table.querySelector("tbody").replaceChildren(
        ...lapsed.map((e) =>
          row([
            e.worker.fullName,
            e.membershipNumber || "–",
            e.worker.kelurahan.name,
            e.fundingSource.code,
            ...(showBills ? [billText(billsOf(e.fundingSource.code))] : []),
          ]),
        ),
      );
    } else {
      // Counts only: an analyst or a kelurahan viewer sees how many, and where, never who.
      const byPlace = new Map();
      for (const e of lapsed) {
        const key = e.worker.kelurahan.code;
        const seen = byPlace.get(key) || { name: e.worker.kelurahan.name, n: 0, sources: new Set() };
        seen.n += 1;
        seen.sources.add(e.fundingSource.code);
        byPlace.set(key, seen);
      }
      header(table, [["Kelurahan"], ["Peserta LAPSED", "num"], ...(showBills ? [["Tagihan tertunggak"]] : [])]);
      table.querySelector("tbody").replaceChildren(
        ...[...byPlace.values()]
          .sort((a, b) => b.n - a.n || a.name.localeCompare(b.name, "id"))
          .map((p) =>
            row([
              p.name,
              [count(p.n), "num"],
              ...(showBills ? [billText([...p.sources].flatMap(billsOf))] : []),
            ]),
          ),
      );
    }
    table.hidden = lapsed.length === 0;
    show("at-risk", true);
    // Lapsed members per kelurahan for the kelurahan table, when the page holds all of them.
    if (connection.totalCount !== lapsed.length) return null;
    const perKelurahan = new Map();
    for (const e of lapsed) perKelurahan.set(e.worker.kelurahan.code, (perKelurahan.get(e.worker.kelurahan.code) || 0) + 1);
    return perKelurahan;
  }

  function fillKelurahan(rows, can, lapsedByKelurahan) {
    const table = $("kelurahan-table");
    const columns = [["Kecamatan"], ["Kelurahan"]];
    if (can("worker:read")) columns.push(["Pekerja", "num"]);
    if (can("enrollment:read")) columns.push(["Aktif", "num"], ["Menunggu verifikasi", "num"]);
    if (lapsedByKelurahan) columns.push(["LAPSED", "num"]);
    header(table, columns);
    const sorted = [...rows].sort(
      (a, b) =>
        a.kelurahan.kecamatan.name.localeCompare(b.kelurahan.kecamatan.name, "id") ||
        a.kelurahan.name.localeCompare(b.kelurahan.name, "id"),
    );
    table.querySelector("tbody").replaceChildren(
      ...sorted.map((r) => {
        const cells = [r.kelurahan.kecamatan.name, r.kelurahan.name];
        if (can("worker:read")) cells.push([count(r.workers), "num"]);
        if (can("enrollment:read")) cells.push([count(r.activeEnrollments), "num"], [count(r.proposedEnrollments), "num"]);
        if (lapsedByKelurahan) cells.push([count(lapsedByKelurahan.get(r.kelurahan.code) || 0), "num"]);
        const tr = row(cells);
        tr.dataset.kelurahan = r.kelurahan.code;
        return tr;
      }),
    );
    show("kelurahan", rows.length > 0);
  }

  // --- the page

  async function start() {
    document.body.dataset.state = "loading";
    problem("");
    show("sign-in", false);
    status("Memuat…");
    let token;
    try {
      token = await currentToken();
    } catch (error) {
      showSignIn("Gagal masuk: " + error.message);
      return;
    }
    if (!token) {
      showSignIn();
      return;
    }
    try {
      const { viewer } = await run(token, "viewer");
      const granted = new Set(viewer.permissions);
      const can = (permission) => granted.has(permission);
      $("session-subject").textContent = viewer.subject;
      $("session-role").textContent = viewer.roles.join(", ");
      $("session-scope").textContent = viewer.scope.join(", ");
      show("session", true);
      status("Memuat data…");

      // Only what the role may read is asked (and shown): the sections of the others stay hidden.
      const reads = can("worker:read") || can("enrollment:read");
      const money = can("funding:read");
      const atRisk = can("enrollment:read") && can("worker:read");
      const personal = atRisk && can("worker.nik:read");
      const [summary, funding, members] = await Promise.all([
        reads ? run(token, "summary") : null,
        money ? run(token, "funding", { bills: PAGE_SIZE }) : null,
        atRisk ? run(token, "at_risk", { personal: personal, first: PAGE_SIZE }) : null,
      ]);
      if (summary) fillFigures(summary.programmeSummary, can);
      const overdueBills = funding ? fillFunding(funding) : null;
      const lapsedByKelurahan = members
        ? fillAtRisk(members.enrollments, funding && funding.programmeSummary.funding, overdueBills, personal)
        : null;
      if (summary) fillKelurahan(summary.programmeSummary.byKelurahan, can, lapsedByKelurahan);
      status("");
      if (!reads && !money) problem("Peran Anda tidak boleh membaca data dasbor ini.");
      document.body.dataset.state = "ready";
    } catch (error) {
      if (error instanceof SignInNeeded) {
        await forgetToken();
        showSignIn(error.message);
        return;
      }
      status("");
      problem("Data tidak dapat dimuat: " + error.message);
      document.body.dataset.state = "error";
    }
  }

  start();
})();
