// SPDX-License-Identifier: Apache-2.0
// The console in Debian's headless Chromium, driven by playwright-core,
// against the real bootwaved that tests/web/test_console.sh started and
// filled. Input (environment): BW_URL, BW_VIEWER, BW_FLEET (JSON: the nodes
// as the API lists them), BW_SHOTS (directory for the screenshots).
// Prints one line per check; exits 1 if any failed.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

const url = process.env.BW_URL, viewer = process.env.BW_VIEWER, shots = process.env.BW_SHOTS;
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
page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()}`));
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
    check(`node ${n.name} in its rack`, d.rack === (n.rack ? `rack ${n.rack}` : "rack not in a rack"), d.rack);
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
