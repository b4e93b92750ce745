//! [`Browser`]: headless Chromium driven through chromedriver (WebDriver, `fantoccini`), for
//! the map page's test; [`trial`] gates it like the PostgreSQL variants are gated.
//!
//! Decision: Debian's `chromium` and `chromium-driver` (or `VMAP_TEST_CHROMIUM`,
//! `VMAP_TEST_CHROMEDRIVER`). Without them a browser test is ignored, and libtest's summary
//! counts it; under `CI=true` it fails, saying what to install (`.ci/run` installs them).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use libtest_mimic::Trial;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long a test waits for the page to show something.
pub const PAGE_WAIT: Duration = Duration::from_secs(30);

/// Where the browser and its driver are.
#[derive(Debug, Clone)]
pub struct BrowserPaths {
    pub chromium: PathBuf,
    pub chromedriver: PathBuf,
}

impl BrowserPaths {
    /// `VMAP_TEST_CHROMIUM` / `VMAP_TEST_CHROMEDRIVER`, else `chromium` and `chromedriver`
    /// on the `PATH`; `None` when either is missing (a variable naming no file included).
    pub fn from_env() -> Option<BrowserPaths> {
        let find = |variable: &str, names: &[&str]| {
            if let Some(path) = std::env::var_os(variable).filter(|path| !path.is_empty()) {
                return Some(PathBuf::from(path)).filter(|path| path.is_file());
            }
            let search = std::env::var_os("PATH").unwrap_or_default();
            std::env::split_paths(&search)
                .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
                .find(|path| path.is_file())
        };
        Some(BrowserPaths {
            chromium: find("VMAP_TEST_CHROMIUM", &["chromium", "chromium-browser"])?,
            chromedriver: find("VMAP_TEST_CHROMEDRIVER", &["chromedriver"])?,
        })
    }
}

/// A browser test: `async fn f(browser: Browser)`, ignored without Chromium unless on CI.
pub fn trial<F, Fut>(name: String, test: F) -> Trial
where
    F: FnOnce(Browser) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let on_ci =
        std::env::var("CI").is_ok_and(|value| value.eq_ignore_ascii_case("true") || value == "1");
    match BrowserPaths::from_env() {
        Some(paths) => super::harness::tokio(name, move || async move {
            let browser = Browser::start(&paths).await;
            test(browser).await;
        }),
        None if on_ci => Trial::test(name, || {
            Err(format!("CI=true, but {}", missing_browser()).into())
        }),
        None => Trial::test(name, || Err(missing_browser().into())).with_ignored_flag(true),
    }
}

fn missing_browser() -> String {
    "chromium or chromedriver is not installed: `apt-get install chromium chromium-driver`, \
     or set VMAP_TEST_CHROMIUM and VMAP_TEST_CHROMEDRIVER"
        .to_owned()
}

/// A headless Chromium session; the driver is killed when dropped.
#[derive(Debug)]
pub struct Browser {
    pub client: Client,
    _driver: Child,
}

impl Browser {
    /// Starts chromedriver on a free port and opens a headless session in a 1280 × 860 window.
    pub async fn start(paths: &BrowserPaths) -> Browser {
        let mut driver = Command::new(&paths.chromedriver)
            .arg("--port=0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start chromedriver");
        let stdout = driver.stdout.take().expect("chromedriver's stdout");
        let port = tokio::time::timeout(Duration::from_secs(20), driver_port(stdout))
            .await
            .expect("chromedriver says its port within 20 s");
        let capabilities = serde_json::json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": paths.chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1280,860", "--lang=en-US", "--no-first-run",
                ],
            },
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("an object literal")
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("open a Chromium session");
        Browser {
            client,
            _driver: driver,
        }
    }

    /// Waits until an element matches `css`; fails the test after [`PAGE_WAIT`], saying
    /// what the page's message line held.
    pub async fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        match self
            .client
            .wait()
            .at_most(PAGE_WAIT)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => element,
            Err(error) => {
                let message = self.text_of("#message").await;
                panic!(
                    "{css} did not appear within {PAGE_WAIT:?}: {error}; the page says {message:?}"
                );
            }
        }
    }

    /// The text of the first element matching `css`, empty when none does.
    pub async fn text_of(&self, css: &str) -> String {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// An attribute of the first element matching `css`.
    pub async fn attr_of(&self, css: &str, attribute: &str) -> Option<String> {
        let element = self.client.find(Locator::Css(css)).await.ok()?;
        element.attr(attribute).await.ok().flatten()
    }

    /// How many elements match `css`.
    pub async fn count(&self, css: &str) -> usize {
        self.client
            .find_all(Locator::Css(css))
            .await
            .map_or(0, |elements| elements.len())
    }

    /// A script's value (`return …;`).
    pub async fn eval(&self, script: &str) -> serde_json::Value {
        self.client
            .execute(script, Vec::new())
            .await
            .unwrap_or_else(|error| panic!("{script}: {error}"))
    }

    /// Saves a PNG of the window to `path`.
    pub async fn screenshot(&self, path: &Path) {
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(path, png).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    }
}

/// The port chromedriver says it started on: `… started successfully on port 41234.`
/// Its later output is read and dropped, so that it never writes to a closed pipe.
async fn driver_port(stdout: tokio::process::ChildStdout) -> u16 {
    let mut lines = BufReader::new(stdout).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let port = line
            .split_once("successfully on port ")
            .map(|(_, rest)| {
                rest.chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
            })
            .and_then(|digits| digits.parse().ok());
        if let Some(port) = port {
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return port;
        }
    }
    panic!("chromedriver exited without saying its port");
}
