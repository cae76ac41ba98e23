// node run.mjs ../gatewayd_client.py [session|raw|mdns]
// Loads MicroPython (WebAssembly) and runs harness.py against the client.
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript/micropython.mjs";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const src = fs.readFileSync(process.argv[2], "utf8");
const mode = process.argv[3] || "session";
if (!["session", "raw", "mdns", "tls", "tlshung", "board"].includes(mode)) {
  console.error(`run.mjs: mode ${JSON.stringify(mode)}: want session, raw, mdns, tls, tlshung or board`);
  process.exit(2);
}
const mp = await loadMicroPython({
  stdout: (l) => process.stdout.write(l + "\n"),
  stderr: (l) => process.stderr.write(l + "\n"),
});
mp.globals.set("SRC", src);
mp.globals.set("MODE", mode);
mp.runPython(fs.readFileSync(path.join(here, "harness.py"), "utf8"));
