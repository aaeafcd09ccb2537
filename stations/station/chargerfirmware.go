package station

import (
	"fmt"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/ocppkata/kata/harness/ocpp"
)

// How long a Charger's simulated transfers take: short, so that a
// workshop sees each status go by.
const (
	diagnosticsUpload = 5 * time.Second
	firmwareDownload  = 10 * time.Second
)

// firmwareUpdate is an UpdateFirmware under way, from its answer until the
// charger reports Installed or DownloadFailed.
type firmwareUpdate struct {
	location string
	version  string // the version the firmware installs
	// installed is set when the charger reboots to install: once booted
	// again, it reports Installed.
	installed bool
}

// usable reports whether the charger can transfer a file to or from
// location: an ftp, ftps, http or https URL with a host. The transfer
// itself is simulated.
func usable(location string) bool {
	u, err := url.Parse(location)
	if err != nil || u.Host == "" {
		return false
	}
	switch strings.ToLower(u.Scheme) {
	case "ftp", "ftps", "http", "https":
		return true
	}
	return false
}

// versionOf is the firmware version a file at location installs: the
// file's name without its extension (station-2.0 for
// https://example.com/station-2.0.bin), at most the 50 characters a
// BootNotification's firmwareVersion holds.
func versionOf(location string) string {
	v := "update"
	if u, err := url.Parse(location); err == nil {
		if base := path.Base(u.Path); base != "." && base != "/" {
			v = strings.TrimSuffix(base, path.Ext(base))
		}
	}
	if len(v) > ocpp.MaxCiString50 {
		v = v[:ocpp.MaxCiString50]
	}
	return v
}

// getDiagnostics answers with the name of the file it uploads, then
// reports Uploading and, diagnosticsUpload later, Uploaded (UploadFailed
// for a location it cannot use). While one upload runs, another has no
// file to upload: its answer names none.
func (c *Charger) getDiagnostics(req *ocpp.GetDiagnosticsRequest) Reply {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.diagnostics == ocpp.DiagnosticsUploading {
		return Reply{Payload: ocpp.GetDiagnosticsResponse{}}
	}
	c.diagnostics = ocpp.DiagnosticsUploading
	end := ocpp.DiagnosticsUploaded
	if !usable(req.Location) {
		end = ocpp.DiagnosticsUploadFailed
	}
	// The upload's end does not wait for the first notification: a
	// connection lost meanwhile leaves the charger Idle all the same.
	c.after(diagnosticsUpload, func() {
		c.diagnostics = ocpp.DiagnosticsIdle
		c.push(func(l *link) { l.diagnosticsStatus(end) })
	})
	name := fmt.Sprintf("%s-%s.log", c.id, time.Now().UTC().Format("20060102T150405Z"))
	return c.then(ocpp.GetDiagnosticsResponse{FileName: name}, func(l *link) { l.diagnosticsStatus(ocpp.DiagnosticsUploading) })
}

func (l *link) diagnosticsStatus(s ocpp.DiagnosticsStatus) {
	l.call(ocpp.ActionDiagnosticsStatusNotification, ocpp.DiagnosticsStatusNotificationRequest{Status: s}, nil)
}

// updateFirmware answers, and at the retrieve date downloads (see
// download). While one update is under way, another is answered and
// ignored: UpdateFirmware's answer has no status to refuse it with.
func (c *Charger) updateFirmware(req *ocpp.UpdateFirmwareRequest) Reply {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fw == nil {
		fw := &firmwareUpdate{location: req.Location, version: versionOf(req.Location)}
		c.fw = fw
		c.after(max(0, time.Until(req.RetrieveDate.Time)), func() {
			c.push(func(l *link) { l.download(fw) })
		})
	}
	return Reply{Payload: ocpp.UpdateFirmwareResponse{}}
}

// firmwareStatus reports s, which a triggered FirmwareStatusNotification
// reports from then on: Idle after the last status of an update.
func (l *link) firmwareStatus(s ocpp.FirmwareStatus) {
	l.c.mu.Lock()
	l.c.fwStatus = s
	switch s {
	case ocpp.FirmwareDownloadFailed, ocpp.FirmwareInstalled:
		l.c.fwStatus, l.c.fw = ocpp.FirmwareIdle, nil
	}
	l.c.mu.Unlock()
	l.call(ocpp.ActionFirmwareStatusNotification, ocpp.FirmwareStatusNotificationRequest{Status: s}, nil)
}

// download reports Downloading, then DownloadFailed for a location it
// cannot use, or, firmwareDownload later, installs.
func (l *link) download(fw *firmwareUpdate) {
	l.firmwareStatus(ocpp.FirmwareDownloading)
	if !usable(fw.location) {
		l.firmwareStatus(ocpp.FirmwareDownloadFailed)
		return
	}
	c := l.c
	c.mu.Lock()
	defer c.mu.Unlock()
	c.after(firmwareDownload, func() {
		c.push(func(l *link) { l.install(fw) })
	})
}

// install reports Downloaded and Installing, then reboots, as an OCPP 1.6
// charger does to install firmware: a transaction under way stops (reason
// Reboot), and the charger boots again with the new version, then reports
// Installed (see firmwareInstalled).
func (l *link) install(fw *firmwareUpdate) {
	l.firmwareStatus(ocpp.FirmwareDownloaded)
	l.firmwareStatus(ocpp.FirmwareInstalling)
	c := l.c
	c.mu.Lock()
	c.firmware, fw.installed = fw.version, true
	c.rebooting = true
	for _, k := range c.connectors {
		if k.tx != nil && k.tx.stopping == "" {
			k.tx.stopping = ocpp.ReasonReboot
		}
	}
	c.mu.Unlock()
	l.resetNow(ocpp.ResetSoft)
}

// firmwareInstalled reports Installed once the charger has booted with the
// firmware an update installed.
func (l *link) firmwareInstalled() {
	l.c.mu.Lock()
	installed := l.c.fw != nil && l.c.fw.installed
	l.c.mu.Unlock()
	if installed {
		l.firmwareStatus(ocpp.FirmwareInstalled)
	}
}
