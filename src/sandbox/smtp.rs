//! The sandbox's mail server, for `demo`: plain SMTP on loopback (RFC 5321's commands a client
//! sends: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT), each accepted message written to
//! `dir/<n>.eml`. Like a real server it refuses some recipients: a local part starting with
//! `khong-ton-tai` ("does not exist") gets 550, so the demo's page shows a message given up with
//! the server's reason. No TLS and no login: the product's `tls = "none"` is for such a relay.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// Serves until `stop` resolves.
pub async fn serve(
    listener: TcpListener,
    dir: PathBuf,
    stop: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    tokio::fs::create_dir_all(&dir).await?;
    let count = Arc::new(AtomicU64::new(0));
    let accept = async {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (dir, count) = (dir.clone(), count.clone());
            tokio::spawn(async move {
                if let Err(e) = session(stream, dir, count).await {
                    tracing::debug!(error = %e, "sandbox SMTP session ended");
                }
            });
        }
    };
    tokio::select! {
        _ = accept => {}
        _ = stop => {}
    }
    Ok(())
}

async fn session(stream: TcpStream, dir: PathBuf, count: Arc<AtomicU64>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write
        .write_all(b"220 localhost baocao-sync sandbox ESMTP\r\n")
        .await?;
    let mut recipients: Vec<String> = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_owned();
        let verb = command
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let answer: &[u8] = match verb.as_str() {
            "EHLO" => b"250-localhost\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
            "HELO" | "NOOP" => b"250 OK\r\n",
            "RSET" | "MAIL" => {
                recipients.clear();
                b"250 OK\r\n"
            }
            "RCPT" => {
                let address = command
                    .split_once(':')
                    .map(|(_, a)| a.trim().trim_start_matches('<').trim_end_matches('>'))
                    .unwrap_or("")
                    .to_owned();
                if address.starts_with("khong-ton-tai") {
                    b"550 5.1.1 No such mailbox\r\n"
                } else {
                    recipients.push(address);
                    b"250 OK\r\n"
                }
            }
            "DATA" if recipients.is_empty() => b"554 5.5.1 No valid recipients\r\n",
            "DATA" => {
                write
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let mut body = Vec::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                    // Dot-stuffing (RFC 5321 §4.5.2).
                    let text = line.strip_prefix('.').unwrap_or(&line);
                    body.extend_from_slice(text.as_bytes());
                }
                let n = count.fetch_add(1, Ordering::Relaxed) + 1;
                let mut file =
                    format!("X-Sandbox-Recipients: {}\r\n", recipients.join(", ")).into_bytes();
                file.extend_from_slice(&body);
                tokio::fs::write(dir.join(format!("{n}.eml")), file).await?;
                recipients.clear();
                write
                    .write_all(format!("250 2.0.0 Ok: queued as {n}\r\n").as_bytes())
                    .await?;
                continue;
            }
            "QUIT" => {
                write.write_all(b"221 Bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 5.5.2 Command not recognized\r\n",
        };
        write.write_all(answer).await?;
    }
}
