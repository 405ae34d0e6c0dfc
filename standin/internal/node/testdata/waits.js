// waits.js never gets ready; it exits when its standard input closes.
"use strict";
process.stdout.write("waiting\n");
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
