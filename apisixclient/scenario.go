package apisixclient

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"strconv"
	"strings"
	"time"
)

// SNIScenario describes a TLS service exposed through APISIX's stream
// proxy and routed by the client's TLS SNI: a listener that terminates TLS
// on Port, an SSL object for SNI, and a stream route from SNI to Upstream.
// Build turns it into the resources and the config.yaml section that make
// it work, which Lint accepts without findings.
type SNIScenario struct {
	// SNI is the server name clients send, e.g. "mysite.com" or
	// "*.mysite.com". Required; APISIX matches it lower-cased, so it must be
	// lower case.
	SNI string
	// Port is the stream_proxy.tcp listener that terminates TLS (the
	// route's server_port). Required, 1..65535.
	Port int
	// Upstream is the backend as "host:port". Required.
	Upstream string
	// UpstreamTLS makes APISIX speak TLS to the backend again (upstream
	// scheme "tls"); false sends the decrypted stream as plain TCP.
	UpstreamTLS bool
	// Cert and Key are the PEM certificate and private key served for SNI
	// (SelfSigned makes a pair for tests). Required.
	Cert, Key string
	// ID is the id of the SSL object and the stream route. Default: the
	// SNI with '.' and '*' replaced, e.g. "mysite-com".
	ID ID
}

// Build returns the desired State (one SSL object and one stream route,
// ready for Sync) and the stream_proxy section (StreamProxy.YAML renders
// it for config.yaml). It fails with a *ValidationError (ErrInvalid) that
// names the field to fix.
func (s SNIScenario) Build() (*State, *StreamProxy, error) {
	const k = "sni scenario"
	sni := strings.TrimSpace(s.SNI)
	if sni == "" {
		return nil, nil, invalid(k, "SNI", "missing", "set the server name clients send, e.g. \"mysite.com\"")
	}
	if err := checkHost(k, "SNI", sni); err != nil {
		return nil, nil, err
	}
	if sni != strings.ToLower(sni) {
		return nil, nil, invalid(k, "SNI", fmt.Sprintf("%q has upper-case letters", sni), fmt.Sprintf("use %q: APISIX lower-cases the client's SNI before matching", strings.ToLower(sni)))
	}
	if s.Port < 1 || s.Port > 65535 {
		return nil, nil, invalid(k, "Port", strconv.Itoa(s.Port), "use the TLS listener port, 1 to 65535, e.g. 9333")
	}
	host, port, err := net.SplitHostPort(s.Upstream)
	if p, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || p < 1 || p > 65535 {
		return nil, nil, invalid(k, "Upstream", fmt.Sprintf("%q is not host:port", s.Upstream), "use the backend address, e.g. \"192.168.1.33:8080\" or \"[::1]:8443\"")
	}
	if s.Cert == "" || s.Key == "" {
		return nil, nil, invalid(k, "Cert", "certificate or key missing", "pass the PEM certificate and key for the SNI (SelfSigned makes a pair for tests)")
	}
	if b, _ := pem.Decode([]byte(s.Cert)); b == nil || b.Type != "CERTIFICATE" {
		return nil, nil, invalid(k, "Cert", "not a PEM certificate", "pass the text of a \"-----BEGIN CERTIFICATE-----\" file")
	}
	if b, _ := pem.Decode([]byte(s.Key)); b == nil || !strings.HasSuffix(b.Type, "PRIVATE KEY") {
		return nil, nil, invalid(k, "Key", "not a PEM private key", "pass the text of a \"-----BEGIN PRIVATE KEY-----\" file")
	}
	id := s.ID
	if id == "" {
		id = ID(strings.NewReplacer(".", "-", "*", "wildcard").Replace(sni))
	}
	if err := id.Validate(); err != nil {
		return nil, nil, err
	}
	nodeHost := host
	if strings.Contains(host, ":") {
		nodeHost = "[" + host + "]"
	}
	up := &Upstream{Type: "roundrobin", Nodes: NodeMap(map[string]int{nodeHost + ":" + port: 1})}
	if s.UpstreamTLS {
		up.Scheme = "tls"
	}
	st := &State{
		SSLs:         []SSL{{ID: id, SNI: sni, Cert: s.Cert, Key: s.Key}},
		StreamRoutes: []StreamRoute{{ID: id, SNI: sni, ServerPort: s.Port, Upstream: up}},
	}
	if err := st.SSLs[0].Validate(); err != nil {
		return nil, nil, err
	}
	if err := st.StreamRoutes[0].Validate(); err != nil {
		return nil, nil, err
	}
	sp := &StreamProxy{ProxyMode: "http&stream", TCP: []StreamListener{{Addr: strconv.Itoa(s.Port), Port: s.Port, TLS: true}}}
	return st, sp, nil
}

// SelfSigned returns a PEM certificate and PKCS#8 key (ECDSA P-256) for
// names, valid for a year: enough for tests and examples, never for
// production traffic. The first name is the subject's common name.
func SelfSigned(names ...string) (certPEM, keyPEM string, err error) {
	if len(names) == 0 || names[0] == "" {
		return "", "", fmt.Errorf("%w: SelfSigned needs at least one name, e.g. \"mysite.com\"", ErrInvalid)
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return "", "", err
	}
	now := time.Now()
	tpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(365 * 24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &k.PublicKey, k)
	if err != nil {
		return "", "", err
	}
	kd, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return "", "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd})), nil
}
