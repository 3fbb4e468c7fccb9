//! A letter of the provincial office (`crate::letters`) as a Decree 30 DOCX, laid out by the
//! narrative's renderer: the head with the number and the subject under it, "Kính gửi", the body,
//! the signer and "Nơi nhận".

use super::RenderError;
use super::narrative::{BODY, body_paragraph, document, head_with, kinh_gui, pack, run, signature};
use super::texts::UnitTexts;
use crate::letters::Letter;

pub fn docx(l: &Letter) -> Result<Vec<u8>, RenderError> {
    // The letter's issuer, signer and recipients in the shape the narrative's head and signature
    // take.
    let t = UnitTexts {
        place: l.place.clone(),
        superior: l.superior.clone(),
        issuer: l.office.clone(),
        abbreviation: String::new(),
        addressees: l.addressees.clone(),
        signer_authority: String::new(),
        signer_title: l.signer_title.clone(),
        signer_name: l.signer_name.clone(),
        recipients: l.recipients.clone(),
    };
    let mut doc = document(format!(
        "Dự thảo công văn lập từ cấu hình nhiệm vụ báo cáo; {}",
        l.subject
    ))
    .add_table(head_with(&t, &l.number, Some(&l.subject)));
    for p in kinh_gui(&l.addressees) {
        doc = doc.add_paragraph(p);
    }
    for (i, paragraph) in l.body.iter().enumerate() {
        // The closing paragraph stays with the signature block.
        let keep = i + 1 == l.body.len();
        doc = doc.add_paragraph(
            body_paragraph()
                .keep_next(keep)
                .add_run(run(paragraph, BODY)),
        );
    }
    doc = doc.add_table(signature(&t));
    pack(doc)
}
