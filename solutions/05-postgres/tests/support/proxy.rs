//! A TCP proxy between the service and PostgreSQL that a test can cut and
//! restore: the database "goes away" without stopping a shared server.

use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
};

pub struct Proxy {
    pub port: u16,
    up: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Listens on a random port of 127.0.0.1 and forwards to `target`.
    pub async fn start(target: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (up, _) = watch::channel(true);
        let watch = up.clone();
        let target = target.to_string();
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mut up = watch.subscribe();
                if !*up.borrow_and_update() {
                    // Down: hang up at once, like a closed port would.
                    continue;
                }
                let target = target.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        // Cut: dropping both sockets breaks the connection.
                        _ = up.wait_for(|up| !up) => {}
                    }
                });
            }
        });
        Self { port, up, task }
    }

    /// Breaks every open connection and refuses new ones.
    pub fn cut(&self) {
        self.up.send_replace(false);
    }

    /// Accepts connections again.
    pub fn restore(&self) {
        self.up.send_replace(true);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
