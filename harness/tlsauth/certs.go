package tlsauth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// A CA is a certificate authority that issues a workshop's certificates:
// the server's, and each station's for profile 3. It is self-signed: the
// stations trust it because they are given its certificate (CA=), and the
// server trusts the stations' because it is given the same (TLS_CLIENT_CA=).
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// Organization is the subject organization of the certificates NewCA and
// Issue make.
const Organization = "OCPP kata workshop"

// NewCA returns a new CA named name, valid from notBefore to notAfter, with
// an ECDSA P-256 key.
func NewCA(name string, notBefore, notAfter time.Time) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("tlsauth: new CA key: %w", err)
	}
	tmpl, err := template(name, notBefore, notAfter)
	if err != nil {
		return nil, err
	}
	tmpl.IsCA, tmpl.BasicConstraintsValid, tmpl.MaxPathLenZero = true, true, true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("tlsauth: new CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("tlsauth: new CA: %w", err)
	}
	return &CA{Cert: cert, Key: key}, nil
}

// A Kind is what a certificate that a CA issues is for.
type Kind int

const (
	// Server is a server's certificate: names are the host names and
	// addresses clients reach it by (its subject alternative names; the
	// first is its CN too).
	Server Kind = iota
	// Client is a station's certificate for profile 3: names holds one
	// name, the station's identity, its CN.
	Client
)

// Issue returns a certificate of kind for names, valid from notBefore to
// notAfter, signed by ca, and its new private key: both PEM.
func (ca *CA) Issue(kind Kind, names []string, notBefore, notAfter time.Time) (certPEM, keyPEM []byte, err error) {
	if len(names) == 0 || names[0] == "" {
		return nil, nil, errors.New("tlsauth: a certificate needs a name")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("tlsauth: new key: %w", err)
	}
	tmpl, err := template(names[0], notBefore, notAfter)
	if err != nil {
		return nil, nil, err
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	switch kind {
	case Server:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		for _, n := range names {
			if ip := net.ParseIP(n); ip != nil {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			} else {
				tmpl.DNSNames = append(tmpl.DNSNames, n)
			}
		}
	case Client:
		if len(names) != 1 {
			return nil, nil, fmt.Errorf("tlsauth: a station's certificate names one station, not %d", len(names))
		}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	default:
		return nil, nil, fmt.Errorf("tlsauth: unknown kind %d", kind)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("tlsauth: issue %s: %w", names[0], err)
	}
	keyPEM, err = encodeKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM, nil
}

// CertPEM returns the CA's certificate, PEM: what stations and the server
// are told to trust.
func (ca *CA) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// KeyPEM returns the CA's private key, PEM.
func (ca *CA) KeyPEM() ([]byte, error) { return encodeKey(ca.Key) }

// LoadCA reads a CA that NewCA made and WriteWorkshop wrote.
func LoadCA(certFile, keyFile string) (*CA, error) {
	cert, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("tlsauth: %w", err)
	}
	key, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("tlsauth: %w", err)
	}
	cb, _ := pem.Decode(cert)
	kb, _ := pem.Decode(key)
	if cb == nil || kb == nil {
		return nil, fmt.Errorf("tlsauth: %s or %s is not PEM", certFile, keyFile)
	}
	c, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("tlsauth: %s: %w", certFile, err)
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("tlsauth: %s: %w", keyFile, err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok || !c.IsCA {
		return nil, fmt.Errorf("tlsauth: %s and %s are not a CA's certificate and key", certFile, keyFile)
	}
	return &CA{Cert: c, Key: signer}, nil
}

// template is a certificate's common part: a random serial number (the
// whitepaper wants one), the subject, the validity.
func template(cn string, notBefore, notAfter time.Time) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("tlsauth: serial number: %w", err)
	}
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{Organization}},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
	}, nil
}

func encodeKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("tlsauth: encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// Workshop is what WriteWorkshop writes, under one directory.
type Workshop struct {
	Dir      string
	Hosts    []string // the server's names and addresses
	Stations []string // the stations that get a client certificate
	// Now is when the certificates become valid (an hour before, for a
	// clock that is a little behind); the CA is valid 5 years from then,
	// the others a year.
	Now time.Time
}

// Files of a workshop, relative to its directory. A station's certificate
// and key are StationsDir/{id}.pem and StationsDir/{id}-key.pem.
const (
	CAFile        = "ca.pem"
	CAKeyFile     = "ca-key.pem"
	ServerFile    = "server.pem"
	ServerKeyFile = "server-key.pem"
	StationsDir   = "stations"
)

// StationFiles returns the certificate and key files of station id in
// dir, a directory of station certificates such as WriteWorkshop writes.
func StationFiles(dir, id string) (cert, key string) {
	return filepath.Join(dir, id+".pem"), filepath.Join(dir, id+"-key.pem")
}

// WriteWorkshop writes a workshop's certificates under w.Dir: the CA's
// (kept and reused if the directory has one, so that certificates made
// earlier stay valid), the server's for w.Hosts, and one per station of
// w.Stations. Private keys are written readable by their owner only. It
// returns the files it wrote, the CA's first if it made one.
func WriteWorkshop(w Workshop) ([]string, error) {
	if len(w.Hosts) == 0 {
		return nil, errors.New("tlsauth: the server's certificate needs at least one host")
	}
	for _, id := range w.Stations {
		if id == "" || id == "." || id == ".." || strings.ContainsAny(id, `/\`) {
			return nil, fmt.Errorf("tlsauth: %q cannot be a station's identity (nor a file's name)", id)
		}
	}
	if err := os.MkdirAll(filepath.Join(w.Dir, StationsDir), 0o755); err != nil {
		return nil, fmt.Errorf("tlsauth: %w", err)
	}
	from := w.Now.Add(-time.Hour)
	var written []string
	write := func(name string, data []byte, mode os.FileMode) error {
		path := filepath.Join(w.Dir, name)
		// Removed first: WriteFile keeps an existing file's mode.
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("tlsauth: %w", err)
		}
		if err := os.WriteFile(path, data, mode); err != nil {
			return fmt.Errorf("tlsauth: %w", err)
		}
		written = append(written, path)
		return nil
	}
	caCert, caKey := filepath.Join(w.Dir, CAFile), filepath.Join(w.Dir, CAKeyFile)
	ca, err := LoadCA(caCert, caKey)
	if err != nil {
		if _, statErr := os.Stat(caCert); statErr == nil {
			return nil, fmt.Errorf("%w; remove %s and %s to make a new CA (and hand its ca.pem out again)", err, caCert, caKey)
		}
		if ca, err = NewCA("OCPP kata workshop CA", from, from.AddDate(5, 0, 0)); err != nil {
			return nil, err
		}
		key, err := ca.KeyPEM()
		if err != nil {
			return nil, err
		}
		if err := write(CAFile, ca.CertPEM(), 0o644); err != nil {
			return nil, err
		}
		if err := write(CAKeyFile, key, 0o600); err != nil {
			return nil, err
		}
	}
	issue := func(kind Kind, names []string, certName, keyName string) error {
		cert, key, err := ca.Issue(kind, names, from, from.AddDate(1, 0, 0))
		if err != nil {
			return err
		}
		if err := write(certName, cert, 0o644); err != nil {
			return err
		}
		return write(keyName, key, 0o600)
	}
	if err := issue(Server, w.Hosts, ServerFile, ServerKeyFile); err != nil {
		return nil, err
	}
	for _, id := range w.Stations {
		cert, key := StationFiles(StationsDir, id)
		if err := issue(Client, []string{id}, cert, key); err != nil {
			return nil, err
		}
	}
	return written, nil
}

// StationCertificate returns station id's certificate from dir, a
// directory of station certificates such as WriteWorkshop writes, or nil
// if dir has none for it.
func StationCertificate(dir, id string) (*tls.Certificate, error) {
	certFile, keyFile := StationFiles(dir, id)
	if _, err := os.Stat(certFile); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("station %s's certificate: %w", id, err)
	}
	return &cert, nil
}
