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

// Actions of the Firmware Management profile that the central system sends
// to a station.
const (
	ActionGetDiagnostics = "GetDiagnostics"
	ActionUpdateFirmware = "UpdateFirmware"
)

// GetDiagnosticsRequest asks a station to upload its diagnostics to
// Location. The station reports the upload with
// DiagnosticsStatusNotifications.
type GetDiagnosticsRequest struct {
	// Location is the URI the diagnostics go to, such as
	// ftp://user:pass@host/path.
	Location string `json:"location"`
	// Retries is how often to try before giving up; RetryInterval the
	// seconds between tries. Both are the station's choice when absent.
	Retries       *int `json:"retries,omitempty"`
	RetryInterval *int `json:"retryInterval,omitempty"`
	// StartTime and StopTime bound the diagnostics asked for.
	StartTime *DateTime `json:"startTime,omitempty"`
	StopTime  *DateTime `json:"stopTime,omitempty"`
}

// GetDiagnosticsResponse answers a GetDiagnosticsRequest with the name of
// the file the station will upload, or none if it has no diagnostics.
type GetDiagnosticsResponse struct {
	FileName string `json:"fileName,omitempty"`
}

// UpdateFirmwareRequest asks a station to download firmware from Location
// at RetrieveDate or later, and to install it. The station reports the
// update with FirmwareStatusNotifications.
type UpdateFirmwareRequest struct {
	Location      string   `json:"location"`
	Retries       *int     `json:"retries,omitempty"`
	RetrieveDate  DateTime `json:"retrieveDate"`
	RetryInterval *int     `json:"retryInterval,omitempty"`
}

// UpdateFirmwareResponse answers an UpdateFirmwareRequest; its payload is
// empty.
type UpdateFirmwareResponse struct{}

// validateRetries checks the optional retries and retryInterval of a
// Firmware Management request: counts and seconds, never negative.
func validateRetries(retries, interval *int) error {
	if retries != nil && *retries < 0 {
		return negative("retries", *retries)
	}
	if interval != nil && *interval < 0 {
		return negative("retryInterval", *interval)
	}
	return nil
}

// Validate checks r against the OCPP 1.6 schema: location is an absolute
// URI.
func (r GetDiagnosticsRequest) Validate() error {
	return firstError(
		checkURI("location", r.Location),
		validateRetries(r.Retries, r.RetryInterval),
	)
}

// Validate checks r against the OCPP 1.6 schema.
func (r GetDiagnosticsResponse) Validate() error {
	return checkString("fileName", r.FileName, MaxCiString255, false)
}

// Validate checks r against the OCPP 1.6 schema: location is an absolute
// URI, and retrieveDate is required.
func (r UpdateFirmwareRequest) Validate() error {
	return firstError(
		checkURI("location", r.Location),
		checkTime("retrieveDate", r.RetrieveDate),
		validateRetries(r.Retries, r.RetryInterval),
	)
}

// Validate accepts every UpdateFirmwareResponse: its payload is empty.
func (UpdateFirmwareResponse) Validate() error { return nil }
