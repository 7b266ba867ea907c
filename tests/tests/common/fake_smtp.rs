//! A fake SMTP server on 127.0.0.1 for end-to-end tests: it speaks enough of the protocol for
//! a client (EHLO, MAIL, RCPT, DATA, QUIT), accepts every message, and keeps each one's text.
//! [`FakeSmtp::start_secure`] is a submission server as a provider runs one: it offers
//! STARTTLS with the test certificate for `localhost` (`tests/fixtures/tls`), and after it
//! AUTH PLAIN, and takes mail only from a client that logged in with the right password.

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// A message the server took, and how its client reached it.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub text: String,
    /// Sent over TLS (after STARTTLS).
    pub tls: bool,
    /// The user the client logged in as.
    pub user: Option<String>,
}

/// What a secure server asks of its clients.
struct Login {
    user: String,
    password: String,
    tls: tokio_rustls::TlsAcceptor,
}

#[derive(Clone)]
struct Sink {
    kept: Arc<Mutex<Vec<Received>>>,
    changed: tokio::sync::watch::Sender<usize>,
}

#[derive(Debug, Clone)]
pub struct FakeSmtp {
    /// `smtp://127.0.0.1:PORT`, for `STEPWISE_PROVIDER_URLS=smtp=…`.
    pub url: String,
    pub port: u16,
    messages: Arc<Mutex<Vec<Received>>>,
    changed: tokio::sync::watch::Sender<usize>,
}

/// The test CA's file (`SSL_CERT_FILE` for a server that must trust the secure fake).
pub fn test_ca_file() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/tls/ca.pem").to_owned()
}

fn acceptor() -> tokio_rustls::TlsAcceptor {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/tls");
    let certs = CertificateDer::pem_file_iter(format!("{dir}/localhost.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(format!("{dir}/localhost.key")).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

impl FakeSmtp {
    /// A relay in the clear that takes anything.
    pub async fn start() -> FakeSmtp {
        Self::listen(None).await
    }

    /// A submission server: STARTTLS, then AUTH PLAIN as `user` with `password`.
    pub async fn start_secure(user: &str, password: &str) -> FakeSmtp {
        let login = Login {
            user: user.to_owned(),
            password: password.to_owned(),
            tls: acceptor(),
        };
        Self::listen(Some(Arc::new(login))).await
    }

    async fn listen(login: Option<Arc<Login>>) -> FakeSmtp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let messages: Arc<Mutex<Vec<Received>>> = Arc::default();
        let (changed, _) = tokio::sync::watch::channel(0);
        let sink = Sink {
            kept: messages.clone(),
            changed: changed.clone(),
        };
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, login.clone(), sink.clone()));
            }
        });
        FakeSmtp {
            url: format!("smtp://{address}"),
            port: address.port(),
            messages,
            changed,
        }
    }

    /// Waits until `count` messages arrived (within `limit`) and answers them all.
    pub async fn until_messages(&self, count: usize, limit: std::time::Duration) -> Vec<String> {
        let mut seen = self.changed.subscribe();
        let reached = tokio::time::timeout(limit, seen.wait_for(|n| *n >= count)).await;
        assert!(
            reached.is_ok(),
            "the fake SMTP server got {} messages, not {count}",
            self.messages().len()
        );
        self.messages()
    }

    pub fn messages(&self) -> Vec<String> {
        self.received().into_iter().map(|r| r.text).collect()
    }

    pub fn received(&self) -> Vec<Received> {
        self.messages.lock().unwrap().clone()
    }
}

/// One client: in the clear, then (after STARTTLS) over TLS.
async fn serve(socket: TcpStream, login: Option<Arc<Login>>, sink: Sink) {
    let mut plain = BufReader::new(socket);
    if plain
        .get_mut()
        .write_all(b"220 fake ESMTP\r\n")
        .await
        .is_err()
    {
        return;
    }
    let upgrade = session(&mut plain, login.as_deref(), false, &sink).await;
    if let (true, Some(login)) = (upgrade, login) {
        // The client waits for the 220 before its handshake: nothing is left buffered.
        let Ok(tls) = login.tls.accept(plain.into_inner()).await else {
            return;
        };
        session(&mut BufReader::new(tls), Some(&login), true, &sink).await;
    }
}

/// Speaks SMTP until QUIT or the end; answers whether the client asked for STARTTLS.
async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut BufReader<S>,
    login: Option<&Login>,
    tls: bool,
    sink: &Sink,
) -> bool {
    let mut user: Option<String> = None;
    let mut data: Option<String> = None;
    let mut line = String::new();
    loop {
        line.clear();
        if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
            return false;
        }
        let text = line.trim_end_matches(['\r', '\n']);
        if let Some(body) = &mut data {
            if text == "." {
                let received = Received {
                    text: std::mem::take(body),
                    tls,
                    user: user.clone(),
                };
                let count = {
                    let mut all = sink.kept.lock().unwrap();
                    all.push(received);
                    all.len()
                };
                sink.changed.send_replace(count);
                data = None;
                let _ = stream.get_mut().write_all(b"250 2.0.0 queued\r\n").await;
            } else {
                body.push_str(text);
                body.push('\n');
            }
            continue;
        }
        let verb = text.get(..4).unwrap_or_default().to_ascii_uppercase();
        let reply = match (verb.as_str(), login) {
            ("EHLO", _) => {
                let offers = match (login, tls) {
                    (Some(_), false) => "250-STARTTLS\r\n",
                    (Some(_), true) => "250-AUTH PLAIN\r\n",
                    (None, _) => "",
                };
                format!("250-fake\r\n{offers}250 8BITMIME\r\n")
            }
            ("STAR", Some(_)) if !tls => {
                let _ = stream.get_mut().write_all(b"220 2.0.0 ready\r\n").await;
                return true;
            }
            ("AUTH", Some(login)) if tls => {
                let given = text.split_whitespace().nth(2).unwrap_or_default();
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(given)
                    .unwrap_or_default();
                let parts: Vec<&[u8]> = decoded.split(|b| *b == 0).collect();
                if parts.len() == 3
                    && parts[1] == login.user.as_bytes()
                    && parts[2] == login.password.as_bytes()
                {
                    user = Some(login.user.clone());
                    "235 2.7.0 accepted\r\n".to_owned()
                } else {
                    "535 5.7.8 authentication failed\r\n".to_owned()
                }
            }
            ("MAIL", Some(_)) if user.is_none() => {
                "530 5.7.0 authentication required\r\n".to_owned()
            }
            ("DATA", _) => {
                data = Some(String::new());
                "354 go ahead\r\n".to_owned()
            }
            ("QUIT", _) => {
                let _ = stream.get_mut().write_all(b"221 bye\r\n").await;
                return false;
            }
            _ => "250 ok\r\n".to_owned(),
        };
        let _ = stream.get_mut().write_all(reply.as_bytes()).await;
    }
}
