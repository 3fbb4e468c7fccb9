//! HTTPS for the sandbox, with a certificate authority of its own: a CA and a certificate for
//! `localhost` and `127.0.0.1` signed by it are made at start; the CA's certificate is written
//! where clients can be told to trust it (`ca_file`), so tests exercise real certificate
//! verification, never a switch that turns it off.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::server::TlsStream;

/// A CA, and a certificate for `localhost` and `127.0.0.1` signed by it.
struct Made {
    ca_pem: String,
    server: rcgen::Certificate,
    server_key: rcgen::KeyPair,
}

fn make() -> Result<Made, String> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    let e = |e: rcgen::Error| e.to_string();
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(e)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "baocao-sync sandbox CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate().map_err(e)?;
    let ca_cert = ca.self_signed(&ca_key).map_err(e)?;
    let issuer = Issuer::new(ca, ca_key);

    let mut server =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).map_err(e)?;
    server
        .distinguished_name
        .push(DnType::CommonName, "baocao-sync sandbox");
    server.use_authority_key_identifier_extension = true;
    server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_key = KeyPair::generate().map_err(e)?;
    let server_cert = server.signed_by(&server_key, &issuer).map_err(e)?;
    Ok(Made {
        ca_pem: ca_cert.pem(),
        server: server_cert,
        server_key,
    })
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Makes a CA and a server certificate signed by it; writes the CA certificate to `dir/ca.pem`.
/// Returns the acceptor and the CA file's path.
pub fn acceptor(dir: &Path) -> Result<(TlsAcceptor, PathBuf), String> {
    let made = make()?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let ca_path = dir.join("ca.pem");
    write(&ca_path, &made.ca_pem)?;

    let chain = vec![rustls::pki_types::CertificateDer::from(
        made.server.der().to_vec(),
    )];
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(
        made.server_key.serialize_der(),
    ));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .map_err(|e| e.to_string())?;
    Ok((TlsAcceptor::from(Arc::new(config)), ca_path))
}

/// The same CA and server certificate as files, for a server of another program (the SMTP
/// server the mail tests start): `dir/ca.pem`, `dir/server.pem`, `dir/server-key.pem`.
pub fn certificate_files(dir: &Path) -> Result<(PathBuf, PathBuf, PathBuf), String> {
    let made = make()?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let paths = (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server-key.pem"),
    );
    write(&paths.0, &made.ca_pem)?;
    write(&paths.1, &made.server.pem())?;
    write(&paths.2, &made.server_key.serialize_pem())?;
    Ok(paths)
}

/// A TCP listener that hands on TLS streams (a failed handshake is dropped, not fatal).
pub struct TlsListener {
    pub tcp: TcpListener,
    pub acceptor: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (stream, addr) = match self.tcp.accept().await {
                Ok(s) => s,
                Err(e) => {
                    tracing::debug!(error = %e, "accept failed");
                    continue;
                }
            };
            let handshake = tokio::time::timeout(
                std::time::Duration::from_secs(5),
                self.acceptor.accept(stream),
            );
            match handshake.await {
                Ok(Ok(tls)) => return (tls, addr),
                Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake refused"),
                Err(_) => tracing::debug!("TLS handshake timed out"),
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}
