// Package browser tests the live view's page in a real headless Chromium,
// through github.com/chromedp/chromedp, against a server with simulated
// stations: the grid shows the stations, the lanes move, a station that
// goes away turns grey, and the page comes back by itself after the
// server restarts; and, with the operator API beside it, a tile says how
// a firmware update goes, and the operator calls a station from its tile,
// with a click or the keyboard, with or without the API's token. And a
// workshop's session end to end, on the final server (step 09's solution)
// wired as make serve wires it, with simulated chargers that act on the
// calls: a session started from a tile charges, stops, and the station
// resets and boots again. It saves screenshots under the repository's
// .kata/ for a person to look at.
//
// Where no Chromium or Chrome is installed the tests skip, saying so in
// one line, so that a learner's make test never needs a browser. CI
// installs Debian's chromium and sets KATA_BROWSER=required, which turns a
// missing browser into a failure: there they always run. CHROME names the
// browser to use, if it is not where the tests look.
//
// The package has no code of its own: it is a package so that only these
// tests build chromedp.
package browser
