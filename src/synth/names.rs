//! Street names: how a town's streets are named, and the name tables by region and kind.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::StreetKind;
use super::town::ZoneGenerator;

/// How the ward's streets are named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Naming {
    /// Inner Hà Nội: old-quarter "Phố Hàng …" names and mostly "Phố".
    HaNoiUrban,
    /// Other northern towns: sometimes "Phố".
    NorthUrban,
    /// Hồ Chí Minh City: some numbered streets ("Đường Số 7").
    HoChiMinhUrban,
    /// Townships and rural communes: a highway often runs through the centre.
    Countryside,
    Plain,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct StreetLabel {
    pub(super) name: &'static str,
    pub(super) kind: StreetKind,
}

impl ZoneGenerator {
    /// The street's name, chosen the first time it is walked.
    pub(super) fn label_for(&mut self, street_idx: usize) -> StreetLabel {
        if let Some(label) = self.labels.get(street_idx) {
            return *label;
        }
        let label = self.pick_label(street_idx);
        self.labels.push(label);
        label
    }

    fn pick_label(&mut self, street_idx: usize) -> StreetLabel {
        match self.naming {
            // The main road through a commune's centre is often a national or provincial road.
            Naming::Countryside if street_idx == 0 && self.rng.random_bool(0.4) => {
                let idx = self.rng.random_range(0..HIGHWAY_NAMES.len());
                return StreetLabel {
                    name: HIGHWAY_NAMES[idx],
                    kind: StreetKind::Highway,
                };
            }
            Naming::HaNoiUrban
                if !self.unused_hanoi_names.is_empty() && self.rng.random_bool(0.3) =>
            {
                let name = take_random(
                    &mut self.rng,
                    &mut self.unused_hanoi_names,
                    HANOI_STREET_NAMES,
                );
                return StreetLabel {
                    name,
                    kind: StreetKind::Pho,
                };
            }
            Naming::HoChiMinhUrban if self.rng.random_bool(0.15) => {
                if let Some(name) = NUMBERED_STREET_NAMES.get(self.next_numbered_street) {
                    self.next_numbered_street += 1;
                    return StreetLabel {
                        name,
                        kind: StreetKind::Duong,
                    };
                }
            }
            _ => {}
        }
        let pho_chance = match self.naming {
            Naming::HaNoiUrban => 0.6,
            Naming::NorthUrban => 0.3,
            _ => 0.0,
        };
        let kind = if pho_chance > 0.0 && self.rng.random_bool(pho_chance) {
            StreetKind::Pho
        } else {
            StreetKind::Duong
        };
        if self.unused_names.is_empty() {
            // A ward with more streets than names (only for huge counts): numbered streets,
            // then names again.
            if let Some(name) = NUMBERED_STREET_NAMES.get(self.next_numbered_street) {
                self.next_numbered_street += 1;
                return StreetLabel {
                    name,
                    kind: StreetKind::Duong,
                };
            }
            self.unused_names = (0..STREET_NAMES.len() as u16).collect();
        }
        let name = take_random(&mut self.rng, &mut self.unused_names, STREET_NAMES);
        StreetLabel { name, kind }
    }
}

/// Removes and returns a random entry of `unused`, an index into `names`.
pub(super) fn take_random(
    rng: &mut ChaCha8Rng,
    unused: &mut Vec<u16>,
    names: &'static [&'static str],
) -> &'static str {
    let idx = rng.random_range(0..unused.len());
    let name_idx = unused.swap_remove(idx);
    names[usize::from(name_idx)]
}

// ---------------------------------------------------------------------------------------
// Name tables
// ---------------------------------------------------------------------------------------

/// Street names found all over Vietnam: national heroes, dynasties, writers, scholars,
/// revolutionaries, dates and events.
pub(super) const STREET_NAMES: &[&str] = &[
    "Trần Hưng Đạo",
    "Lê Lợi",
    "Nguyễn Trãi",
    "Hai Bà Trưng",
    "Lý Thường Kiệt",
    "Quang Trung",
    "Nguyễn Huệ",
    "Lê Duẩn",
    "Hùng Vương",
    "Ngô Quyền",
    "Đinh Tiên Hoàng",
    "Lý Thái Tổ",
    "Trần Phú",
    "Lê Hồng Phong",
    "Phan Đình Phùng",
    "Phan Bội Châu",
    "Phan Chu Trinh",
    "Nguyễn Du",
    "Nguyễn Thị Minh Khai",
    "Võ Thị Sáu",
    "Nguyễn Văn Cừ",
    "Trường Chinh",
    "Lê Thánh Tông",
    "Hoàng Diệu",
    "Hoàng Văn Thụ",
    "Nguyễn Chí Thanh",
    "Võ Văn Tần",
    "Nguyễn Đình Chiểu",
    "Pasteur",
    "Hàm Nghi",
    "Bà Triệu",
    "Trần Quốc Toản",
    "Trần Nhân Tông",
    "Trần Khánh Dư",
    "Trần Quang Khải",
    "Trần Bình Trọng",
    "Trần Cao Vân",
    "Trần Quý Cáp",
    "Trần Nhật Duật",
    "Yết Kiêu",
    "Phạm Ngũ Lão",
    "Phạm Hồng Thái",
    "Phạm Văn Đồng",
    "Lê Văn Lương",
    "Lê Trọng Tấn",
    "Lê Lai",
    "Lê Văn Hưu",
    "Lê Quý Đôn",
    "Lê Đại Hành",
    "Lê Ngọc Hân",
    "Lê Văn Duyệt",
    "Lê Văn Sỹ",
    "Lê Thị Riêng",
    "Nguyễn Biểu",
    "Nguyễn Công Trứ",
    "Nguyễn Khuyến",
    "Nguyễn Lương Bằng",
    "Nguyễn Tất Thành",
    "Nguyễn Thái Học",
    "Nguyễn Thị Định",
    "Nguyễn Thượng Hiền",
    "Nguyễn Tri Phương",
    "Nguyễn Trung Trực",
    "Nguyễn Văn Linh",
    "Nguyễn Văn Trỗi",
    "Nguyễn Xí",
    "Nguyễn Hữu Cảnh",
    "Nguyễn Hữu Thọ",
    "Nguyễn An Ninh",
    "Nguyễn Bỉnh Khiêm",
    "Nguyễn Gia Thiều",
    "Nguyễn Sơn",
    "Nguyễn Văn Tố",
    "Nguyễn Thiện Thuật",
    "Nguyễn Trường Tộ",
    "Nguyễn Công Hoan",
    "Nguyễn Thị Thập",
    "Nguyễn Duy Trinh",
    "Nguyễn Văn Nghi",
    "Hồ Tùng Mậu",
    "Hồ Xuân Hương",
    "Hồ Đắc Di",
    "Hồ Biểu Chánh",
    "Huỳnh Thúc Kháng",
    "Huỳnh Tấn Phát",
    "Hoàng Hoa Thám",
    "Hoàng Quốc Việt",
    "Hoàng Văn Thái",
    "Tôn Đức Thắng",
    "Tôn Thất Thuyết",
    "Tôn Thất Tùng",
    "Võ Nguyên Giáp",
    "Võ Chí Công",
    "Võ Văn Kiệt",
    "Phan Huy Chú",
    "Phan Kế Bính",
    "Phan Văn Trị",
    "Phan Đăng Lưu",
    "Phan Xích Long",
    "Phan Đình Giót",
    "Phùng Hưng",
    "Phùng Khắc Khoan",
    "Chu Văn An",
    "Cao Bá Quát",
    "Cao Thắng",
    "Cù Chính Lan",
    "Đào Duy Anh",
    "Đào Duy Từ",
    "Đào Tấn",
    "Đặng Dung",
    "Đặng Tất",
    "Đặng Thai Mai",
    "Đặng Văn Ngữ",
    "Đinh Công Tráng",
    "Đinh Lễ",
    "Đinh Bộ Lĩnh",
    "Đoàn Thị Điểm",
    "Hàn Thuyên",
    "Kim Đồng",
    "Lạc Long Quân",
    "Âu Cơ",
    "An Dương Vương",
    "Mai Hắc Đế",
    "Lý Nam Đế",
    "Lý Tự Trọng",
    "Lý Chính Thắng",
    "Lý Thái Tông",
    "Lương Thế Vinh",
    "Lương Văn Can",
    "Lương Định Của",
    "Mạc Đĩnh Chi",
    "Mạc Thị Bưởi",
    "Ngô Gia Tự",
    "Ngô Sĩ Liên",
    "Ngô Thì Nhậm",
    "Ngô Tất Tố",
    "Nơ Trang Long",
    "Phó Đức Chính",
    "Tản Đà",
    "Thái Phiên",
    "Thành Thái",
    "Thi Sách",
    "Tô Hiến Thành",
    "Tô Hiệu",
    "Tô Vĩnh Diện",
    "Trịnh Hoài Đức",
    "Triệu Quang Phục",
    "Triệu Việt Vương",
    "Tuệ Tĩnh",
    "Văn Cao",
    "Vạn Hạnh",
    "Xuân Diệu",
    "Xuân Thủy",
    "Bùi Thị Xuân",
    "Bùi Viện",
    "Bùi Hữu Nghĩa",
    "Cô Giang",
    "Cô Bắc",
    "Ký Con",
    "Calmette",
    "Yersin",
    "Alexandre de Rhodes",
    "Trần Văn Ơn",
    "Trần Xuân Soạn",
    "Trần Đại Nghĩa",
    "Tạ Quang Bửu",
    "Mai Chí Thọ",
    "Lê Văn Việt",
    "Đỗ Xuân Hợp",
    "Phạm Thế Hiển",
    "Phạm Văn Chiêu",
    "Quách Văn Tuấn",
    "Đinh Núp",
    "Lê Quang Đạo",
    "Lê Đức Thọ",
    "Nguyễn Khánh Toàn",
    "Nguyễn Phong Sắc",
    "Nguyễn Văn Huyên",
    "Nguyễn Tuân",
    "Nguyễn Đình Thi",
    "Hoàng Sa",
    "Trường Sa",
    "Điện Biên Phủ",
    "Cách Mạng Tháng Tám",
    "Ba Tháng Hai",
    "30 Tháng 4",
    "Nam Kỳ Khởi Nghĩa",
    "Xô Viết Nghệ Tĩnh",
    "Độc Lập",
    "Thống Nhất",
    "Hòa Bình",
    "Giải Phóng",
    "Bạch Đằng",
    "Chi Lăng",
    "Đống Đa",
    "Đồng Khởi",
    "Cộng Hòa",
];

/// Streets of old Hà Nội, always written "Phố …".
pub(super) const HANOI_STREET_NAMES: &[&str] = &[
    "Hàng Bạc",
    "Hàng Bè",
    "Hàng Bông",
    "Hàng Buồm",
    "Hàng Bút",
    "Hàng Cá",
    "Hàng Cân",
    "Hàng Chiếu",
    "Hàng Chĩnh",
    "Hàng Da",
    "Hàng Đào",
    "Hàng Đậu",
    "Hàng Điếu",
    "Hàng Đồng",
    "Hàng Gai",
    "Hàng Giấy",
    "Hàng Hòm",
    "Hàng Khay",
    "Hàng Lược",
    "Hàng Mã",
    "Hàng Mắm",
    "Hàng Muối",
    "Hàng Ngang",
    "Hàng Nón",
    "Hàng Quạt",
    "Hàng Thiếc",
    "Hàng Thùng",
    "Hàng Tre",
    "Hàng Trống",
    "Hàng Vải",
    "Hàng Bài",
    "Huế",
    "Tràng Tiền",
    "Tràng Thi",
    "Lò Đúc",
    "Lò Sũ",
    "Kim Mã",
    "Láng Hạ",
    "Thái Hà",
    "Tây Sơn",
    "Xã Đàn",
    "Thụy Khuê",
    "Cửa Bắc",
    "Cửa Nam",
    "Bát Đàn",
    "Bát Sứ",
    "Mã Mây",
    "Ô Quan Chưởng",
    "Đồng Xuân",
    "Đội Cấn",
    "Giảng Võ",
    "La Thành",
    "Quán Thánh",
    "Hoàng Cầu",
];

/// National and provincial roads for the main road of a commune.
pub(super) const HIGHWAY_NAMES: &[&str] = &[
    "Quốc lộ 1A",
    "Quốc lộ 2",
    "Quốc lộ 3",
    "Quốc lộ 5",
    "Quốc lộ 6",
    "Quốc lộ 7",
    "Quốc lộ 9",
    "Quốc lộ 10",
    "Quốc lộ 13",
    "Quốc lộ 14",
    "Quốc lộ 18",
    "Quốc lộ 19",
    "Quốc lộ 20",
    "Quốc lộ 21",
    "Quốc lộ 22",
    "Quốc lộ 27",
    "Quốc lộ 32",
    "Quốc lộ 37",
    "Quốc lộ 45",
    "Quốc lộ 49",
    "Quốc lộ 51",
    "Quốc lộ 53",
    "Quốc lộ 57",
    "Quốc lộ 61",
    "Quốc lộ 62",
    "Quốc lộ 80",
    "Quốc lộ 91",
    "Tỉnh lộ 2",
    "Tỉnh lộ 8",
    "Tỉnh lộ 10",
    "Tỉnh lộ 15",
    "Tỉnh lộ 43",
];

/// Numbered streets of new districts ("Đường Số 7").
pub(super) const NUMBERED_STREET_NAMES: &[&str] = &[
    "Số 1", "Số 2", "Số 3", "Số 4", "Số 5", "Số 6", "Số 7", "Số 8", "Số 9", "Số 10", "Số 11",
    "Số 12", "Số 13", "Số 14", "Số 15", "Số 16", "Số 17", "Số 18", "Số 19", "Số 20", "Số 21",
    "Số 22", "Số 23", "Số 24", "Số 25", "Số 26", "Số 27", "Số 28", "Số 29", "Số 30", "Số 31",
    "Số 32", "Số 33", "Số 34", "Số 35", "Số 36", "Số 37", "Số 38", "Số 39", "Số 40",
];
