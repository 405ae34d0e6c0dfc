// stubborn.js gets ready and then ignores its standard input closing.
"use strict";
process.stdin.on("end", () => {});
process.stdin.resume();
setInterval(() => {}, 1000);
process.stdout.write("ready\n");
