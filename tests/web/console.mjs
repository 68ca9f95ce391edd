// SPDX-License-Identifier: Apache-2.0
// The console in Debian's headless Chromium, driven by playwright-core,
// against the real bootwaved that tests/web/test_console.sh started and
// filled. Input (environment): BW_URL, BW_VIEWER, BW_FLEET (JSON: the nodes
// as the API lists them), BW_SHOTS (directory for the screenshots).
// Prints one line per check; exits 1 if any failed.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";

const axePath = createRequire(import.meta.url).resolve("axe-core/axe.min.js");

const url = process.env.BW_URL, viewer = process.env.BW_VIEWER, shots = process.env.BW_SHOTS;
const operator = process.env.BW_OPERATOR, admin = process.env.BW_ADMIN;
const fleet = JSON.parse(process.env.BW_FLEET);
let failed = 0, checks = 0;
function check(what, cond, detail = "") {
  checks++;
  if (cond) return;
  failed++;
  console.log(`   FAIL: ${what}${detail ? `: ${detail}` : ""}`);
}

mkdirSync(shots, { recursive: true });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  // Root in CI: Chromium's own sandbox needs an unprivileged user.
  args: process.getuid && process.getuid() === 0 ? ["--no-sandbox"] : [],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
const problems = [];
page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
page.on("console", (m) => { if (m.type() === "error") problems.push(`console: ${m.text()}`); });
// (a stream the page closes itself, leaving a view, is "aborted": not a failure)
page.on("requestfailed", (r) => {
  if (r.failure()?.errorText !== "net::ERR_ABORTED") problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
});
page.on("request", (r) => { if (!r.url().startsWith(url)) problems.push(`request off the appliance: ${r.url()}`); });

try {
  // A browser lands on / and is sent to the console, which asks for a token.
  await page.goto(`${url}/`);
  check("/ leads to /ui/", page.url() === `${url}/ui/`, page.url());
  const tokenField = page.getByLabel("API token");
  await tokenField.waitFor();
  check("the token field has focus", await tokenField.evaluate((e) => e === document.activeElement));
  await page.screenshot({ path: `${shots}/login.png`, fullPage: true });

  // A wrong token: refused with the API's message, still on the sign-in form.
  await tokenField.fill("bwt_" + "0".repeat(48));
  await page.keyboard.press("Enter");
  const err = page.locator("#login-error");
  await err.filter({ hasText: /./ }).waitFor();
  check("wrong token is refused", /invalid token/.test(await err.textContent()), await err.textContent());
  problems.length = 0; // Chromium logs the 401 it was meant to get

  // The viewer's token, typed and sent with the keyboard alone.
  await tokenField.focus();
  await page.keyboard.type(viewer);
  await page.keyboard.press("Enter");
  await page.locator("#fleet").waitFor();
  await page.locator("[data-node]").first().waitFor();
  check("signed in as the viewer", /\(viewer\)/.test(await page.locator("#who").textContent()));

  // Every node is drawn, once, in its rack, with its state.
  const drawn = await page.locator("[data-node]").evaluateAll((els) =>
    els.map((e) => ({ name: e.dataset.node, state: e.dataset.state, rack: e.closest(".rack").getAttribute("aria-label") })));
  check("every node drawn once", drawn.length === fleet.length, `${drawn.length} drawn, ${fleet.length} in the fleet`);
  for (const n of fleet) {
    const d = drawn.find((x) => x.name === n.name);
    check(`node ${n.name} drawn`, !!d);
    if (!d) continue;
    check(`node ${n.name} in its rack`, d.rack === (n.rack ? `rack ${n.rack}` :
      n.zone ? `nodes of zone ${n.zone} not in a rack` : "nodes without a zone"), d.rack);
    check(`node ${n.name} state`, d.state === (n.quarantined ? "quarantined" : n.state), d.state);
  }
  check("count line", (await page.locator("#fleet-count").textContent()) === `${fleet.length} of ${fleet.length} nodes`);
  await page.screenshot({ path: `${shots}/fleet.png`, fullPage: true });

  // Filters: by state, then by pool; each select is found by its label.
  await page.getByLabel("State", { exact: true }).selectOption("quarantined");
  const q = fleet.filter((n) => n.quarantined).map((n) => n.name).sort();
  const shownQ = (await page.locator("[data-node]").evaluateAll((els) => els.map((e) => e.dataset.node))).sort();
  check("state filter", JSON.stringify(shownQ) === JSON.stringify(q), `${shownQ} vs ${q}`);
  await page.getByLabel("State", { exact: true }).selectOption("");
  const pool = fleet.find((n) => n.pool).pool;
  await page.getByLabel("Pool", { exact: true }).selectOption(pool);
  const inPool = fleet.filter((n) => n.pool === pool).map((n) => n.name).sort();
  const shownP = (await page.locator("[data-node]").evaluateAll((els) => els.map((e) => e.dataset.node))).sort();
  check("pool filter", JSON.stringify(shownP) === JSON.stringify(inPool), `${shownP} vs ${inPool}`);
  await page.screenshot({ path: `${shots}/fleet-filtered.png`, fullPage: true });

  // Pools: the list, then pool db, which has had no rollout. The viewer
  // gets no button, and is told why.
  await page.getByRole("link", { name: "Pools" }).click();
  await page.locator("#pools-rows a", { hasText: "db" }).waitFor();
  check("pools listed", (await page.locator("#pools-rows tr").count()) === 2);
  await page.screenshot({ path: `${shots}/pools.png`, fullPage: true });
  await page.locator("#pools-rows a", { hasText: "db" }).click();
  await page.locator("#rollout", { hasText: "has had no rollout" }).waitFor();
  await page.locator("#live", { hasText: "Live" }).waitFor();
  check("viewer: no start button", (await page.locator("#start-rollout").count()) === 0);
  check("viewer: told why", /can look but not act/.test(await page.locator("#rollout-actions").textContent()));
  await page.evaluate(() => { window.noReload = true; });

  // A rollout started elsewhere (the API, as the CLI would) appears live.
  const started = await fetch(`${url}/api/v1/pools/db/rollout`, { method: "POST", headers: { Authorization: `Bearer ${admin}` } });
  check("rollout started through the API", started.status === 201, String(started.status));
  await page.locator("#rollout-status", { hasText: "RollingForward" }).waitFor({ timeout: 10000 });
  await page.locator('#rollout-nodes tr:not([data-phase="pending"])').first().waitFor({ timeout: 10000 });
  check("progress: one node in progress", (await page.locator('[data-count="in_progress"]').textContent()) === "1 in progress");
  check("history shows it", (await page.locator("#history-rows tr").count()) === 1);
  check("viewer: no cancel button", (await page.locator("#cancel-rollout").count()) === 0);
  check("no reload for the update", await page.evaluate(() => window.noReload === true));

  // An operator, in a second browser, cancels it with the button.
  const opContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const op = await opContext.newPage();
  op.on("pageerror", (e) => problems.push(`operator page error: ${e.message}`));
  await op.goto(`${url}/ui/#/pool/db`);
  await op.getByLabel("API token").fill(operator);
  await op.getByRole("button", { name: "Sign in" }).click();
  const cancel = op.getByRole("button", { name: "Cancel rollout" });
  await cancel.waitFor();
  check("operator: no start button while one runs", (await op.locator("#start-rollout").count()) === 0);
  await op.screenshot({ path: `${shots}/pool-operator.png`, fullPage: true });
  await cancel.click();
  await op.locator("#action-result", { hasText: "Cancel requested" }).waitFor();
  await op.locator("#rollout", { hasText: "cancel requested" }).waitFor({ timeout: 10000 });
  check("operator: cancel button gone once requested", (await op.locator("#cancel-rollout").count()) === 0);
  await opContext.close();

  // The viewer's page hears of the cancel by itself.
  await page.locator("#rollout", { hasText: "cancel requested" }).waitFor({ timeout: 10000 });
  check("viewer sees the cancel without a reload", await page.evaluate(() => window.noReload === true));
  await page.screenshot({ path: `${shots}/pool.png`, fullPage: true });

  // Node n9 from the fleet: its identity, the reimage the rollout gave it,
  // its events, its BMC's power state; no power button for the viewer.
  await page.getByRole("link", { name: "Fleet" }).click();
  await page.locator("[data-node]").first().waitFor();
  await page.getByLabel("Pool", { exact: true }).selectOption(""); // the filter set above stays
  await page.getByRole("link", { name: "n9", exact: true }).click();
  await page.locator("#node-title", { hasText: "Node n9" }).waitFor();
  await page.locator("#power-state").waitFor();
  check("node: MAC shown", /52:54:00:00:10:09/.test(await page.locator("#ident").textContent()));
  check("node: power read from its BMC", (await page.locator("#power-state").textContent()) === "on",
    await page.locator("#power-state").textContent());
  check("node: the rollout's reimage task", (await page.locator("#task-rows tr").count()) === 1);
  check("node: its events", (await page.locator('#event-rows tr[data-kind="reimage"]').count()) >= 1);
  check("viewer: no power button", (await page.locator("[data-action]").count()) === 0);
  await page.screenshot({ path: `${shots}/node.png`, fullPage: true });

  // The operator powers it off from the node view.
  const opc = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const op2 = await opc.newPage();
  await op2.goto(`${url}/ui/#/node/n9`);
  await op2.getByLabel("API token").fill(operator);
  await op2.getByRole("button", { name: "Sign in" }).click();
  await op2.getByRole("button", { name: "Power off" }).click();
  await op2.locator("#power-result", { hasText: "Power off: done." }).waitFor({ timeout: 20000 });
  await op2.locator("#power-state", { hasText: "off" }).waitFor();
  check("operator: power off done", true);
  await opc.close();

  // Images: v1 is the latest, and both pools (following latest) run on it.
  await page.getByRole("link", { name: "Images" }).click();
  const v1 = page.locator('tr[data-version="v1"]');
  await v1.waitFor();
  check("images: v1 is latest", /latest/.test(await v1.textContent()));
  check("images: pools on v1", (await v1.locator("[data-pools]").textContent()) === "web, db" ||
    (await v1.locator("[data-pools]").textContent()) === "db, web", await v1.locator("[data-pools]").textContent());
  await page.screenshot({ path: `${shots}/images.png`, fullPage: true });

  // Accessibility: axe-core's rules (labels, names, roles, contrast,
  // structure) over every view, in a browser of its own that may inject it
  // past the page's Content-Security-Policy. No violation is allowed.
  const auditContext = await browser.newContext({ bypassCSP: true, viewport: { width: 1280, height: 900 } });
  const audit = await auditContext.newPage();
  await audit.goto(`${url}/ui/`);
  const views = [["sign-in", null, "#token"], ["fleet", "#/fleet", "[data-node]"], ["pools", "#/pools", "#pools-rows a"],
    ["pool", "#/pool/db", "#rollout-status"], ["node", "#/node/n9", "#power-state"], ["images", "#/images", "[data-version]"]];
  for (const [name, hash, ready] of views) {
    if (hash) {
      if (name === "fleet") {
        await audit.getByLabel("API token").fill(viewer);
        await audit.keyboard.press("Enter");
      }
      await audit.evaluate((h) => { location.hash = h; }, hash);
    }
    await audit.locator(ready).first().waitFor();
    await audit.addScriptTag({ path: axePath });
    const result = await audit.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
    check(`accessibility of the ${name} view`, result.violations.length === 0,
      result.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`).join("; "));
  }
  await auditContext.close();

  // Signing out forgets the token.
  await page.getByRole("button", { name: "Sign out" }).click();
  await tokenField.waitFor();
  check("token forgotten", (await page.evaluate(() => sessionStorage.getItem("bootwave.token"))) === null);
  await page.reload();
  await tokenField.waitFor();
  check("a reload asks again", await page.locator("#fleet").isHidden());

  check("no page error, failed request or request elsewhere", problems.length === 0, problems.join("; "));
} catch (e) {
  failed++;
  console.log(`   FAIL: ${e.message}`);
  await page.screenshot({ path: `${shots}/failure.png`, fullPage: true }).catch(() => {});
} finally {
  await browser.close();
}
console.log(`   ${checks} browser checks`);
process.exit(failed ? 1 : 0);
