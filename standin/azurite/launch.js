// launch.js runs Azurite's blob service (node_modules/azurite) with the arguments it is given,
// and stops it when its standard input closes, so that the Go test binary that started it never
// leaves it behind, even when the binary is killed. Azurite's own SIGTERM handler closes the
// server and exits.
"use strict";

process.stdin.on("end", () => process.kill(process.pid, "SIGTERM"));
process.stdin.on("error", () => process.kill(process.pid, "SIGTERM"));
process.stdin.resume();

require("azurite/dist/src/blob/main.js");
