#!/usr/bin/env node
// The compiled CLI lives in dist/ (built by `npm run build`, and by `prepare` on `npm ci`).
import '../dist/cli.js';
