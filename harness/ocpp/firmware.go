package ocpp

// Actions of the Firmware Management profile that a station sends to the
// central system, unasked after a firmware update or a diagnostics upload,
// or when a TriggerMessage asks.
const (
	ActionDiagnosticsStatusNotification = "DiagnosticsStatusNotification"
	ActionFirmwareStatusNotification    = "FirmwareStatusNotification"
)

// DiagnosticsStatus is the status of a diagnostics upload, in a
// DiagnosticsStatusNotification.
type DiagnosticsStatus string

// The values of DiagnosticsStatus.
const (
	DiagnosticsIdle         DiagnosticsStatus = "Idle" // only when a TriggerMessage asked
	DiagnosticsUploaded     DiagnosticsStatus = "Uploaded"
	DiagnosticsUploadFailed DiagnosticsStatus = "UploadFailed"
	DiagnosticsUploading    DiagnosticsStatus = "Uploading"
)

// Valid reports whether s is one of OCPP 1.6's DiagnosticsStatus values.
func (s DiagnosticsStatus) Valid() bool {
	switch s {
	case DiagnosticsIdle, DiagnosticsUploaded, DiagnosticsUploadFailed, DiagnosticsUploading:
		return true
	}
	return false
}

// FirmwareStatus is the progress of a firmware update, in a
// FirmwareStatusNotification.
type FirmwareStatus string

// The values of FirmwareStatus.
const (
	FirmwareDownloaded         FirmwareStatus = "Downloaded"
	FirmwareDownloadFailed     FirmwareStatus = "DownloadFailed"
	FirmwareDownloading        FirmwareStatus = "Downloading"
	FirmwareIdle               FirmwareStatus = "Idle" // only when a TriggerMessage asked
	FirmwareInstallationFailed FirmwareStatus = "InstallationFailed"
	FirmwareInstalling         FirmwareStatus = "Installing"
	FirmwareInstalled          FirmwareStatus = "Installed"
)

// Valid reports whether s is one of OCPP 1.6's FirmwareStatus values.
func (s FirmwareStatus) Valid() bool {
	switch s {
	case FirmwareDownloaded, FirmwareDownloadFailed, FirmwareDownloading, FirmwareIdle,
		FirmwareInstallationFailed, FirmwareInstalling, FirmwareInstalled:
		return true
	}
	return false
}

// DiagnosticsStatusNotificationRequest tells the central system how an
// upload of diagnostics is going.
type DiagnosticsStatusNotificationRequest struct {
	Status DiagnosticsStatus `json:"status"`
}

// DiagnosticsStatusNotificationResponse answers a
// DiagnosticsStatusNotificationRequest; its payload is empty.
type DiagnosticsStatusNotificationResponse struct{}

// FirmwareStatusNotificationRequest tells the central system how a
// firmware update is going.
type FirmwareStatusNotificationRequest struct {
	Status FirmwareStatus `json:"status"`
}

// FirmwareStatusNotificationResponse answers a
// FirmwareStatusNotificationRequest; its payload is empty.
type FirmwareStatusNotificationResponse struct{}

// Validate checks r against the OCPP 1.6 schema.
func (r DiagnosticsStatusNotificationRequest) Validate() error {
	return checkEnum("status", string(r.Status), true, r.Status.Valid(), "DiagnosticsStatus")
}

// Validate accepts every DiagnosticsStatusNotificationResponse: its
// payload is empty.
func (DiagnosticsStatusNotificationResponse) Validate() error { return nil }

// Validate checks r against the OCPP 1.6 schema.
func (r FirmwareStatusNotificationRequest) Validate() error {
	return checkEnum("status", string(r.Status), true, r.Status.Valid(), "FirmwareStatus")
}

// Validate accepts every FirmwareStatusNotificationResponse: its payload
// is empty.
func (FirmwareStatusNotificationResponse) Validate() error { return nil }
