// node run.mjs ../gatewayd_client.py [CORRUPT_AT]
// Loads MicroPython (WebAssembly) and runs harness.py against the client.
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript/micropython.mjs";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const src = fs.readFileSync(process.argv[2], "utf8");
const corruptAt = parseInt(process.argv[3] || "0", 10);
const mp = await loadMicroPython({
  stdout: (l) => process.stdout.write(l + "\n"),
  stderr: (l) => process.stderr.write(l + "\n"),
});
mp.globals.set("SRC", src);
mp.runPython("CORRUPT_AT = " + corruptAt);
mp.runPython(fs.readFileSync(path.join(here, "harness.py"), "utf8"));
