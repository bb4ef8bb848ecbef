// Drives the chat page in the system Chromium (playwright-core, no browser download):
// type an error, submit, wait for the rendered category, copy a fix command, open a runbook,
// ask a follow-up in the same thread, take a screenshot. Prints what it saw as JSON.
//
// usage: node chat_page.mjs BASE_URL SCREENSHOT_PATH ERROR_MESSAGE NAMESPACE
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [baseUrl, screenshot, errorMessage, namespace] = process.argv.slice(2);
const profile = mkdtempSync(join(tmpdir(), "idp-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
  viewport: { width: 1100, height: 1400 },
});
const seen = { consoleErrors: [] };
try {
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: baseUrl });
  const page = context.pages()[0] || (await context.newPage());
  page.on("console", (m) => { if (m.type() === "error") seen.consoleErrors.push(m.text()); });
  page.on("pageerror", (e) => seen.consoleErrors.push(String(e)));
  await page.goto(baseUrl + "/");
  await page.waitForFunction(() => document.getElementById("status").textContent.startsWith("ready"));
  seen.status = await page.textContent("[data-testid=status]");

  await page.fill("[data-testid=message]", errorMessage);
  await page.fill("[data-testid=namespace]", namespace);
  await page.click("[data-testid=send]");
  const reply = page.locator("[data-testid=reply]").first();
  await reply.locator("[data-testid=category]").waitFor({ timeout: 30000 });
  seen.category = await reply.locator("[data-testid=category]").textContent();
  seen.rootCause = await reply.locator("[data-testid=root-cause]").textContent();
  seen.progressSteps = await reply.locator("[data-testid=progress] li").count();
  seen.evidence = await reply.locator("[data-testid=evidence] li").count();
  seen.commands = await reply.locator("[data-testid=fix-commands] code").allTextContents();
  seen.runbooks = await reply.locator("[data-testid=runbooks] a").evaluateAll((as) => as.map((a) => a.dataset.runbook));

  await reply.locator("[data-testid=copy]").first().click();
  await page.waitForFunction(() => document.querySelector("[data-testid=copy]").dataset.copied === "true");
  seen.clipboard = await page.evaluate(() => navigator.clipboard.readText());

  await reply.locator("[data-testid=runbooks] a").first().click();
  await reply.locator(".runbook-doc").waitFor();
  await page.waitForFunction(() => !document.querySelector(".runbook-doc").textContent.startsWith("loading"));
  seen.runbookDoc = (await reply.locator(".runbook-doc").textContent()).slice(0, 200);

  await page.fill("[data-testid=message]", "how do I fix it?");
  await page.click("[data-testid=send]");
  const followup = page.locator("[data-testid=reply]").nth(1);
  await followup.locator("[data-testid=answer]").waitFor({ timeout: 30000 });
  seen.answerIntent = await followup.locator("[data-testid=answer]").getAttribute("data-intent");
  seen.answerText = await followup.locator("[data-testid=answer]").textContent();
  seen.answerCommands = await followup.locator("[data-testid=fix-commands] code").allTextContents();
  seen.replies = await page.locator("[data-testid=reply]").count();
  seen.errors = await page.locator("[data-testid=error]").allTextContents();

  await page.screenshot({ path: screenshot, fullPage: true });
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify(seen) + "\n");
