//! Glue that voice bots would otherwise write: bridging a caller with a media channel, playing
//! PCM or a WAV file with a mark at the end, recording the caller to WAV (with `hound`).

use std::path::Path;

use super::MediaError;
use super::protocol::MediaEvent;
use super::session::{MediaFormat, MediaItem, MediaReceiver, MediaSender};
use crate::Client;

/// Puts `caller` and the media channel in a new mixing bridge; returns the bridge id. Call it
/// once the media channel is connected and in the app ([`super::WebSocketMedia::connect_routed`]
/// returns only then), so no audio is lost to a bridge that has no media connection yet and
/// the bridge is not refused with "Channel not in Stasis application".
pub async fn bridge_with_media(
    client: &Client,
    caller: &str,
    media_channel: &str,
) -> Result<String, MediaError> {
    let bridge = client.bridges().create().r#type("mixing").send().await?;
    client
        .bridges()
        .add_channel(bridge.id.clone(), [caller, media_channel])
        .send()
        .await?;
    Ok(bridge.id)
}

/// Sends `audio` (in the session's format), pads the last frame with silence and places mark
/// `mark` after it; returns once all of it has been handed to Asterisk (paced, see
/// [`MediaSender`]). Wait for the mark with [`wait_for_mark`].
pub async fn play_audio(
    sender: &mut MediaSender,
    audio: &[u8],
    mark: &str,
) -> Result<(), MediaError> {
    sender.send_audio(audio).await?;
    sender.finish_audio().await?;
    sender.mark(mark).await
}

/// Reads a WAV file as the session's audio: 16-bit mono PCM at the format's sample rate, for
/// `slin*` sessions. Anything else is refused with what was found and what was needed.
pub fn read_wav(path: &Path, format: &MediaFormat) -> Result<Vec<u8>, MediaError> {
    let reader = hound::WavReader::open(path)
        .map_err(|e| MediaError::Wav(format!("{}: {e}", path.display())))?;
    let spec = reader.spec();
    let want_rate = format.sample_rate.filter(|_| format.is_slin());
    if spec.channels != 1
        || spec.bits_per_sample != 16
        || spec.sample_format != hound::SampleFormat::Int
        || Some(spec.sample_rate) != want_rate
    {
        return Err(MediaError::Wav(format!(
            "{}: {} channel(s), {}-bit {:?} at {} Hz; the {} session needs mono 16-bit PCM at {}",
            path.display(),
            spec.channels,
            spec.bits_per_sample,
            spec.sample_format,
            spec.sample_rate,
            format.name,
            want_rate.map_or("(not a slin format)".to_owned(), |r| format!("{r} Hz"))
        )));
    }
    let mut out = Vec::with_capacity(reader.len() as usize * 2);
    for s in reader.into_samples::<i16>() {
        let s = s.map_err(|e| MediaError::Wav(format!("{}: {e}", path.display())))?;
        out.extend_from_slice(&s.to_le_bytes());
    }
    Ok(out)
}

/// Plays a WAV file to the caller with mark `mark` at the end (see [`read_wav`], [`play_audio`]).
pub async fn play_wav(sender: &mut MediaSender, path: &Path, mark: &str) -> Result<(), MediaError> {
    let audio = read_wav(path, sender.format())?;
    play_audio(sender, &audio, mark).await
}

/// Waits for `MEDIA_MARK_PROCESSED` with `id`; other items are passed to `other` (audio keeps
/// arriving meanwhile). Fails with [`MediaError::Closed`] if the session ends first.
pub async fn wait_for_mark(
    receiver: &mut MediaReceiver,
    id: &str,
    mut other: impl FnMut(MediaItem),
) -> Result<(), MediaError> {
    while let Some(item) = receiver.recv().await {
        match &item {
            MediaItem::Event(MediaEvent::MediaMarkProcessed { correlation_id })
                if correlation_id.as_deref() == Some(id) =>
            {
                return Ok(());
            }
            MediaItem::Closed(_) => return Err(MediaError::Closed),
            _ => other(item),
        }
    }
    Err(MediaError::Closed)
}

/// Writes the caller's audio to a WAV file (slin sessions: 16-bit mono at the format's rate).
pub struct WavRecorder {
    writer: hound::WavWriter<std::io::BufWriter<std::fs::File>>,
    samples: u64,
}

impl std::fmt::Debug for WavRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WavRecorder")
            .field("samples", &self.samples)
            .finish_non_exhaustive()
    }
}

impl WavRecorder {
    /// Creates `path` for audio in `format`.
    pub fn create(path: &Path, format: &MediaFormat) -> Result<WavRecorder, MediaError> {
        let rate = format
            .sample_rate
            .filter(|_| format.is_slin())
            .ok_or_else(|| {
                MediaError::Wav(format!(
                    "recording needs a slin format, not {}",
                    format.name
                ))
            })?;
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let writer = hound::WavWriter::create(path, spec)
            .map_err(|e| MediaError::Wav(format!("{}: {e}", path.display())))?;
        Ok(WavRecorder { writer, samples: 0 })
    }

    /// Appends one frame of 16-bit little-endian samples (an odd trailing byte is refused).
    pub fn write(&mut self, pcm: &[u8]) -> Result<(), MediaError> {
        if !pcm.len().is_multiple_of(2) {
            return Err(MediaError::Wav(format!(
                "a {}-byte frame is not whole 16-bit samples",
                pcm.len()
            )));
        }
        for pair in pcm.chunks_exact(2) {
            self.writer
                .write_sample(i16::from_le_bytes([pair[0], pair[1]]))
                .map_err(|e| MediaError::Wav(e.to_string()))?;
        }
        self.samples += pcm.len() as u64 / 2;
        Ok(())
    }

    /// Samples written so far.
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// Finishes the file (writes the header's lengths).
    pub fn finish(self) -> Result<u64, MediaError> {
        let n = self.samples;
        self.writer
            .finalize()
            .map_err(|e| MediaError::Wav(e.to_string()))?;
        Ok(n)
    }
}

/// Records the caller to `path` until the session closes or `stop` returns true for an item;
/// returns the samples written.
pub async fn record_to_wav(
    receiver: &mut MediaReceiver,
    format: &MediaFormat,
    path: &Path,
    mut stop: impl FnMut(&MediaItem) -> bool,
) -> Result<u64, MediaError> {
    let mut rec = WavRecorder::create(path, format)?;
    while let Some(item) = receiver.recv().await {
        if let MediaItem::Audio(frame) = &item {
            rec.write(&frame.data)?;
        }
        if matches!(item, MediaItem::Closed(_)) || stop(&item) {
            break;
        }
    }
    rec.finish()
}
